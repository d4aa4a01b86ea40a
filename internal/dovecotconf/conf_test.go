package dovecotconf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	content := "# dovecot-sql.conf.ext\n" +
		"driver = pgsql\n" +
		"\n" +
		"  connect = host=/run/pg dbname=mail # the socket\n" +
		"password_query = SELECT username AS user, password \\\n" +
		"   FROM mailbox WHERE username = '%u' AND note = '#1'\n" +
		"default_pass_scheme = \"SHA512-CRYPT\"\n" +
		"quoted = 'a \\'b\\''\n" +
		"driver = mysql\n"
	f, err := Parse("x.conf", []byte(content))
	require.NoError(t, err)
	assert.Equal(t, []Setting{
		{Key: "driver", Value: "pgsql", Line: 2},
		{Key: "connect", Value: "host=/run/pg dbname=mail", Line: 4},
		{Key: "password_query", Value: "SELECT username AS user, password FROM mailbox WHERE username = '%u' AND note = '#1'", Line: 5},
		{Key: "default_pass_scheme", Value: "SHA512-CRYPT", Line: 7},
		{Key: "quoted", Value: "a 'b'", Line: 8},
		{Key: "driver", Value: "mysql", Line: 9},
	}, f.Settings)

	m, err := f.Map([]string{"driver", "connect", "password_query", "default_pass_scheme", "quoted"})
	require.NoError(t, err)
	assert.Equal(t, "mysql", m["driver"].Value, "the last of a key wins")

	_, err = f.Map([]string{"driver"})
	var cerr *Error
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, 4, cerr.Line)
	assert.Equal(t, "connect", cerr.Key)
	assert.Contains(t, err.Error(), "x.conf:4: connect: unknown setting")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"no equals", "driver pgsql\n", "f:1: expected \"key = value\""},
		{"section", "\n\npassdb {\n", "f:3: sections are not allowed here"},
		{"space in key", "pass query = x\n", "f:1: malformed key"},
		{"dangling continuation", "a = b \\\n", "f:1: the last line ends in a backslash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f", []byte(tc.content))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestReadFile(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "missing.conf"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
	path := filepath.Join(t.TempDir(), "ok.conf")
	require.NoError(t, os.WriteFile(path, []byte("base = dc=example,dc=org\n"), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, path, f.Path)
	assert.Equal(t, "dc=example,dc=org", f.Settings[0].Value)
}

func FuzzParse(f *testing.F) {
	f.Add("a = b\n# c\nd = 'e#f' # g\nh = i \\\n  j\n")
	f.Fuzz(func(t *testing.T, content string) {
		file, err := Parse("f", []byte(content))
		if err != nil {
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			return
		}
		for _, s := range file.Settings {
			assert.NotEmpty(t, s.Key)
			assert.Positive(t, s.Line)
		}
	})
}
