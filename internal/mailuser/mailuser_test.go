package mailuser_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/mailuser"
	"github.com/gopop3/pop3/passwd"
)

// newAccounts are the accounts of a store on "/var/mail/%u" with the
// default logger.
func newAccounts(t *testing.T, driver string, users passwd.Source) *mailuser.Accounts {
	t.Helper()
	tmpl, err := mailuser.ParseTemplate("/var/mail/%u")
	require.NoError(t, err)
	return mailuser.New(mailuser.Config{Store: driver, Users: users, Template: tmpl, Driver: driver})
}

// A driver the package does not know is the store's mistake.
func TestNewUnknownDriver(t *testing.T) {
	assert.PanicsWithValue(t, `mailuser: unknown driver "sdbox"`, func() { newAccounts(t, "sdbox", nil) })
	assert.PanicsWithValue(t, `mailuser: unknown driver ""`, func() { newAccounts(t, "", nil) })
	assert.NotPanics(t, func() { newAccounts(t, "maildir", nil) })
}

// Only A to Z are lower-cased, as Dovecot's %L does.
func TestNormalizeUsername(t *testing.T) {
	assert.Equal(t, "alice@example.com", mailuser.NormalizeUsername("Alice@EXAMPLE.com"))
	assert.Equal(t, "\u212Aim", mailuser.NormalizeUsername("\u212AIM"))
}
