package sqldb

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

func TestCompile(t *testing.T) {
	vals := &dovecotconf.Values{User: "ann@example.org", Service: "pop3"}
	for _, tc := range []struct {
		name, driver, in, want string
		args                   []any
	}{
		{"postfixadmin", "pgsql",
			"SELECT username AS user, password FROM mailbox WHERE username = '%u' AND active = '1'",
			"SELECT username AS user, password FROM mailbox WHERE username = $1 AND active = '1'",
			[]any{"ann@example.org"}},
		{"one literal, two variables", "mysql",
			"SELECT password FROM users WHERE userid = '%n@%d' AND service = \"%s\"",
			"SELECT password FROM users WHERE userid = ? AND service = ?",
			[]any{"ann@example.org", "pop3"}},
		{"unquoted variable", "sqlite",
			"SELECT password FROM users WHERE local = %Ln AND domain = '%Ld'",
			"SELECT password FROM users WHERE local = ?1 AND domain = ?2",
			[]any{"ann", "example.org"}},
		{"doubled quote inside", "pgsql",
			"SELECT 'it''s' AS note, password FROM t WHERE u = 'x''%u'",
			"SELECT 'it''s' AS note, password FROM t WHERE u = $1",
			[]any{"x'ann@example.org"}},
		{"mysql backslash escape", "mysql",
			`SELECT password FROM t WHERE u = 'a\'%u' AND v = 'b\\'`,
			`SELECT password FROM t WHERE u = ? AND v = 'b\\'`,
			[]any{"a'ann@example.org"}},
		{"percent sign only", "pgsql",
			"SELECT password FROM t WHERE u = '%u' AND note LIKE 'a%%'",
			"SELECT password FROM t WHERE u = $1 AND note LIKE 'a%'",
			[]any{"ann@example.org"}},
		{"comments and identifiers kept", "mysql",
			"SELECT `password` FROM t -- it's here\nWHERE u = '%u' # done",
			"SELECT `password` FROM t -- it's here\nWHERE u = ? # done",
			[]any{"ann@example.org"}},
		{"mysql LIKE escapes kept", "mysql",
			`SELECT password FROM t WHERE u = '%u' AND note LIKE 'a\_b%%'`,
			`SELECT password FROM t WHERE u = ? AND note LIKE 'a\_b%'`,
			[]any{"ann@example.org"}},
		{"dollar quotes without variables", "pgsql",
			"SELECT $$it's$$ AS note, password FROM t WHERE u = '%u'",
			"SELECT $$it's$$ AS note, password FROM t WHERE u = $1",
			[]any{"ann@example.org"}},
		{"mysql double dash without space is no comment", "mysql",
			"SELECT password FROM t WHERE n = 1--1 AND u = '%u'",
			"SELECT password FROM t WHERE n = 1--1 AND u = ?",
			[]any{"ann@example.org"}},
		{"pgsql identifier", "pgsql",
			`SELECT "Password" AS password FROM t WHERE u = '%u'`,
			`SELECT "Password" AS password FROM t WHERE u = $1`,
			[]any{"ann@example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := compile(tc.in, dialects[tc.driver])
			require.NoError(t, err)
			assert.Equal(t, tc.want, q.text)
			assert.Equal(t, tc.args, q.args(vals))
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ name, driver, in, want string }{
		{"open literal", "pgsql", "SELECT password FROM t WHERE u = '%u", "not closed"},
		{"variable in identifier", "pgsql", `SELECT "%u" FROM t`, "quoted identifier"},
		{"variable in comment", "mysql", "SELECT 1 /* %u */", "comment"},
		{"own placeholder pgsql", "pgsql", "SELECT password FROM t WHERE u = $1", "placeholder of its own"},
		{"own placeholder mysql", "mysql", "SELECT password FROM t WHERE u = ?", "placeholder of its own"},
		{"password variable", "mysql", "SELECT password FROM t WHERE u = '%u' AND p = '%w'", "not given to queries"},
		{"unknown variable", "sqlite", "SELECT password FROM t WHERE u = '%q'", "unknown variable"},
		{"E string", "pgsql", "SELECT password FROM t WHERE u = E'%u'", "prefixed string literal"},
		{"charset introducer", "mysql", "SELECT password FROM t WHERE u = _utf8mb4'%u'", "prefixed string literal"},
		{"N string", "sqlite", "SELECT password FROM t WHERE u = N'%u'", "prefixed string literal"},
		{"variable in dollar quotes", "pgsql", "SELECT password FROM t WHERE u = $q$%u$q$", "dollar-quoted"},
		{"open dollar quote", "pgsql", "SELECT $$abc", "not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compile(tc.in, dialects[tc.driver])
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Whatever the query, a compiled one never holds a user's input: the
// text is the same for every user, and each value is a parameter.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"SELECT password FROM t WHERE u = '%u'",
		`SELECT p FROM t WHERE u = "%n@%d" -- x`,
		"SELECT 'a''b', %u",
	} {
		f.Add(s, "x' OR '1'='1")
	}
	f.Fuzz(func(t *testing.T, src, user string) {
		for _, name := range []string{"pgsql", "mysql", "sqlite"} {
			q, err := compile(src, dialects[name])
			if err != nil {
				continue
			}
			q2, err := compile(src, dialects[name])
			require.NoError(t, err)
			assert.Equal(t, q.text, q2.text)
			args := q.args(&dovecotconf.Values{User: user})
			assert.Len(t, args, len(q.params))
			if name == "pgsql" {
				for i := range q.params {
					assert.Contains(t, q.text, "$"+strconv.Itoa(i+1), "every parameter has its placeholder")
				}
			}
		}
	})
}
