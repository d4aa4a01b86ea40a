package mailuser

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
)

// Keys are matched exactly, the last of a key counts, and the others are
// ignored.
func TestParseExtra(t *testing.T) {
	f := parseExtra([]string{
		"userdb_mail=maildir:/a", "reason=moved", "Nologin", "userdb_quota_rule=*:storage=1G",
		"allow_nets=192.0.2.0/24", "user=first", "userdb_user=last", "userdb_mail=mbox:~/mail:INBOX=/b=c",
		"userdb_home=/home/%u",
	})
	assert.Equal(t, extraFields{
		reason:       "moved",
		hasAllowNets: true, allowNets: "192.0.2.0/24",
		hasHome: true, home: "/home/%u",
		hasMail: true, mail: "mbox:~/mail:INBOX=/b=c",
		hasUser: true, user: "last",
	}, f)
	assert.True(t, parseExtra([]string{"nologin=y"}).nologin)
	assert.Equal(t, extraFields{}, parseExtra(nil))
}

func TestUserName(t *testing.T) {
	for _, tc := range []struct {
		extra []string
		want  string // "" for an error
	}{
		{nil, "alias"},
		{[]string{"user=box"}, "box"},
		{[]string{"userdb_user=box@example.com"}, "box@example.com"},
		{[]string{"user=alias"}, "alias"},
		{[]string{"user=../box"}, ""},
		{[]string{"user="}, ""},
		{[]string{"user=a/b"}, ""},
	} {
		got, err := parseExtra(tc.extra).userName("alias")
		if tc.want == "" {
			assert.ErrorIs(t, err, errBadUsername, "%q", tc.extra)
			continue
		}
		require.NoError(t, err, "%q", tc.extra)
		assert.Equal(t, tc.want, got)
	}
}

func TestExpandHome(t *testing.T) {
	got, err := expandHome("bob@example.com", "/home/%d/%n")
	require.NoError(t, err)
	assert.Equal(t, "/home/example.com/bob", got)
	for _, value := range []string{"%h/x", "/home/../x", "/home/%d/%n/%x", "/home/%d"} {
		_, err := expandHome("bob", value)
		assert.ErrorContains(t, err, "userdb_home", value)
	}
}

// allow_nets in short; the store tests (maildir's TestLoginAllowNets) go
// through every case at login.
func TestCheckAllowNets(t *testing.T) {
	tcp := func(ip string) *pop3.ConnInfo {
		return &pop3.ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	}
	assert.NoError(t, checkAllowNets("192.0.2.0/24", tcp("192.0.2.9")))
	assert.NoError(t, checkAllowNets("10.0.0.1 ::ffff:192.0.2.0/120", tcp("::ffff:192.0.2.9")))
	assert.NoError(t, checkAllowNets("local", nil))
	assert.Error(t, checkAllowNets("192.0.2.0/24", tcp("198.51.100.1")))
	assert.Error(t, checkAllowNets("127.0.0.1", nil))
	assert.ErrorContains(t, checkAllowNets("bogus,192.0.2.9", tcp("192.0.2.9")), "malformed")
	assert.ErrorContains(t, checkAllowNets("fe80::1%eth0", tcp("fe80::1")), "malformed")
}
