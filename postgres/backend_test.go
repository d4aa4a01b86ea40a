package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

func TestBackendContract(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		b := newBackend(t, testPool(t, ""))
		for _, a := range accounts {
			// Cleartext for the APOP checks, which need the shared secret.
			addUser(t, b, a.Username, "PLAIN", a.Password)
			for _, m := range a.Messages {
				require.NoError(t, b.Deliver(context.Background(), a.Username, bytes.NewReader(m)))
			}
		}
		return b
	})
}

// The hashes of a Dovecot passwd-file work, checked by the same code.
func TestLoginSchemes(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	for _, scheme := range []string{"BLF-CRYPT", "SHA512-CRYPT", "ARGON2ID", "PLAIN"} {
		t.Run(scheme, func(t *testing.T) {
			name := "user-" + strings.ToLower(scheme)
			addUser(t, b, name, scheme, "right password")
			u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, name, "right password")
			require.NoError(t, err)
			assert.NotNil(t, u)
			_, err = b.Login(ctxFor(t), &pop3.ConnInfo{}, name, "wrong password")
			assert.ErrorIs(t, err, pop3.ErrAuthFailed)
		})
	}
	_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "nobody-here", "x")
	assert.ErrorIs(t, err, pop3.ErrAuthFailed)
	u, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "USER-PLAIN", "right password")
	require.NoError(t, err, "names are matched lower-cased, as Dovecot's %%Lu")
	assert.NotNil(t, u)
}

// A database the login cannot reach is a temporary failure, not a refused
// password.
func TestLoginDatabaseDown(t *testing.T) {
	pool := testPool(t, "")
	b := newBackend(t, pool)
	addUser(t, b, "alice", "PLAIN", "pw")
	pool.Close()
	_, err := b.Login(ctxFor(t), &pop3.ConnInfo{}, "alice", "pw")
	require.Error(t, err)
	assert.False(t, errors.Is(err, pop3.ErrAuthFailed), "a down database is not a wrong password: %v", err)
}

func TestUserExists(t *testing.T) {
	b := newBackend(t, testPool(t, ""))
	var _ pop3.UserChecker = b
	addUser(t, b, "alice", "PLAIN", "pw")
	for name, want := range map[string]bool{"alice": true, "Alice": true, "bob": false, "": false} {
		ok, err := b.UserExists(ctxFor(t), name)
		require.NoError(t, err)
		assert.Equal(t, want, ok, name)
	}
}
