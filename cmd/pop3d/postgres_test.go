package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/pgtest"
	"github.com/gopop3/pop3/postgres"
)

// pop3d -postgres migrates an empty database, takes mail over LMTP and
// serves it over POP3; a QUIT deletes from the database.
func TestPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := start(t, "-addr", "127.0.0.1:0", "-postgres", dsn, "-lmtp", "127.0.0.1:0")
	assert.Contains(t, s.stdout.String(), "pop3d: serving the users of PostgreSQL")
	assert.Contains(t, s.stderr.String(), "migrated the PostgreSQL schema")

	pool, err := postgres.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer pool.Close()
	admin, err := postgres.New(t.Context(), pool)
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.AddUser(t.Context(), "alice", "{PLAIN}alice-pw"))

	c := dialLMTP(t, "tcp", s.LMTPAddr)
	assert.Regexp(t, `^250 `, c.cmd("MAIL FROM:<bob@example.org>"))
	assert.Regexp(t, `^250 `, c.cmd("RCPT TO:<Alice@example.org>"), "the local part, lower-cased")
	assert.Regexp(t, `^550 5\.1\.1 `, c.cmd("RCPT TO:<nobody@example.org>"), "refused at RCPT: the store checks users")
	assert.Equal(t, []string{"250 2.0.0 <Alice@example.org> Delivered"}, c.data(lmtpBody, 1))

	p := dial(t, s.Addr)
	p.Login("alice", "alice-pw")
	_, content := retr(t, p, 1)
	assert.Equal(t, "Return-Path: <bob@example.org>\r\nDelivered-To: Alice@example.org\r\n"+lmtpBody, content)
	p.OK("DELE 1")
	p.Quit()
	users, err := admin.Users(t.Context())
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Zero(t, users[0].Messages, "QUIT deleted it from the database")
}

// A bad DSN, an unreachable database and a conflicting store are errors at
// start-up, with a message and without the password.
func TestPostgresStartErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"bad DSN", []string{"-postgres", "postgres://u:secret@127.0.0.1:port/db"}, "-postgres: postgres: bad DSN", false},
		{"unreachable", []string{"-postgres", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2"}, `cannot reach the database "db" on 127.0.0.1:1`, false},
		{"two stores", []string{"-postgres", "postgres://127.0.0.1/db", "-load", "."}, "four stores: choose one", true},
		{"short lease", []string{"-postgres", "postgres://127.0.0.1/db", "-postgres-lease", "100ms"}, "-postgres-lease must be at least 1s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, tc.args...), io.Discard, &stderr, nil)
			require.Error(t, err)
			if tc.usage {
				var ue *usageError
				assert.ErrorAs(t, err, &ue)
				assert.Contains(t, stderr.String(), tc.want)
				return
			}
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "secret") || strings.Contains(stderr.String(), "secret"), "the password is never shown")
		})
	}
}
