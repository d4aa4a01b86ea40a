package ldapdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/slapdtest"
)

// Lookups one after another reuse one connection, bound once.
func TestPoolReusesConnections(t *testing.T) {
	s := slapdtest.Start(t)
	path := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf("uris = %s\ndn = %s\ndnpass = %s\nbase = %s\n",
		s.URI, s.ServiceDN, s.ServicePassword, slapdtest.BaseDN)), 0o600))
	db, err := OpenFile(path)
	require.NoError(t, err)
	defer db.Close()
	for range 10 {
		require.NoError(t, db.Ping(context.Background()))
	}
	db.lookups.mu.Lock()
	idle := len(db.lookups.idle)
	db.lookups.mu.Unlock()
	assert.Equal(t, 1, idle)
	assert.Equal(t, 1, len(db.lookups.open), "one connection was opened for the ten")

	require.NoError(t, db.Close())
	assert.Equal(t, 0, len(db.lookups.open), "Close closes it")
	assert.Error(t, db.Ping(context.Background()))
}

// Close wakes a lookup that waits for a connection: it fails at once
// rather than waiting for its context.
func TestCloseWakesWaiters(t *testing.T) {
	s := slapdtest.Start(t)
	path := filepath.Join(t.TempDir(), "dovecot-ldap.conf.ext")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf("uris = %s\nbase = %s\n", s.URI, slapdtest.BaseDN)), 0o600))
	db, err := OpenFile(path)
	require.NoError(t, err)
	db.lookups.open = make(chan struct{}, 1) // one connection at most
	held, err := db.lookups.get(context.Background())
	require.NoError(t, err)
	defer held.Close()

	waited := make(chan error, 1)
	go func() {
		_, err := db.lookups.get(context.Background()) // no deadline
		waited <- err
	}()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, db.Close())
	select {
	case err := <-waited:
		assert.ErrorContains(t, err, "closed")
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a waiter waiting")
	}
}
