package sqldb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testcert"
)

func TestParseConnectMySQL(t *testing.T) {
	cs, err := parseConnect("mysql", "host=db1 host=/run/mysqld/mysqld.sock port=3307 dbname=mail user=dovecot password='a b' "+
		"connect_timeout=3 read_timeout=4 character_set=utf8mb4 maxconns=9")
	require.NoError(t, err)
	assert.Equal(t, 9, cs.maxConns)
	require.Len(t, cs.mysql, 2, "one config per host, tried in turn")
	c := cs.mysql[0]
	assert.Equal(t, "tcp", c.Net)
	assert.Equal(t, "db1:3307", c.Addr)
	assert.Equal(t, "unix", cs.mysql[1].Net)
	assert.Equal(t, "/run/mysqld/mysqld.sock", cs.mysql[1].Addr)
	assert.Equal(t, "a b", c.Passwd)
	assert.Equal(t, "mail", c.DBName)
	assert.Nil(t, c.Params, "the character set is the driver's option, not a session variable")
	assert.Nil(t, c.TLS)

	ca := testcert.New(t).WriteCAFile(t, t.TempDir())
	for _, tc := range []struct {
		connect    string
		skipVerify bool
	}{
		{"host=db ssl_verify_server_cert=yes", false}, // the system's roots
		{"host=db ssl_verify_server_cert=no", true},
		{"host=db ssl_verify_server_cert=yes ssl_ca=" + ca, false},
		{"host=db ssl_ca=" + ca, false}, // a CA given is meant to be checked against
	} {
		cs, err := parseConnect("mysql", tc.connect)
		if err != nil {
			t.Fatalf("%s: %v", tc.connect, err)
		}
		require.NotNil(t, cs.mysql[0].TLS, tc.connect)
		assert.Equal(t, tc.skipVerify, cs.mysql[0].TLS.InsecureSkipVerify, tc.connect)
	}
	for _, bad := range []string{"host=db dbnme=x", "host=db port=x", "host=db ssl_verify_server_cert=maybe", "host=db maxconns=0", "host=db password='open"} {
		_, err := parseConnect("mysql", bad)
		assert.Error(t, err, bad)
	}
}

func TestParseConnectPgsql(t *testing.T) {
	cs, err := parseConnect("pgsql", "host=a host=b port=5433 dbname=mail user=dovecot password=s3cret maxconns=2")
	require.NoError(t, err)
	assert.Equal(t, 2, cs.maxConns)
	assert.Equal(t, "a", cs.pg.Host)
	hosts := map[string]bool{}
	for _, f := range cs.pg.Fallbacks {
		hosts[f.Host] = true
	}
	assert.True(t, hosts["b"], "several hosts are tried in turn")
	assert.Equal(t, "s3cret", cs.pg.Password)
}
