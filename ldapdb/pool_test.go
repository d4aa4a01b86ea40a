package ldapdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
