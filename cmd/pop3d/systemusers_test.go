package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

// addSystemUser creates a real account with useradd and sets its password
// with chpasswd, which hashes it with the system's default scheme
// (yescrypt on Debian 12), and removes the account when the test ends.
func addSystemUser(t *testing.T, password string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a system account needs root")
	}
	testprog.Require(t, "useradd", "passwd")
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "pop3t" + hex.EncodeToString(b[:])
	out, err := exec.Command("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return name
}

// shadowHash returns the hash /etc/shadow holds for user.
func shadowHash(t *testing.T, user string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/shadow")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 1 && fields[0] == user {
			return fields[1]
		}
	}
	t.Fatalf("no shadow line for %s", user)
	return ""
}

// A classic host: a system account with the password chpasswd hashed
// (yescrypt on Debian), its spool in a /var/mail-like directory, served by
// pop3d -mbox -system-users; locked and expired accounts cannot log in.
func TestSystemUsersServeSpools(t *testing.T) {
	user := addSystemUser(t, "s3cret-pässword")
	t.Logf("%s's hash scheme: %s", user, strings.SplitN(shadowHash(t, user), "$", 3)[1])
	spools := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(spools, user),
		[]byte("From root@localhost Sun Dec  6 19:22:23 2026\nSubject: hello\n\nhi there\n\n"), 0o660))

	srv := start(t, "-addr", "127.0.0.1:0", "-mbox", filepath.Join(spools, "%u"), "-system-users", "-auth-failure-delay", "0", "-auth-penalty", "0")
	assert.Contains(t, srv.stdout.String(), "serving the mbox spools")

	c := dial(t, srv.Addr)
	c.Login(user, "s3cret-pässword")
	assert.Equal(t, "1 28", stat(c))
	_, content := retr(t, c, 1)
	assert.Equal(t, "Subject: hello\r\n\r\nhi there\r\n", content)
	c.Quit()

	c = dial(t, srv.Addr)
	c.OK("USER " + user)
	assert.False(t, c.Cmd("PASS wrong").OK)

	// Locked (usermod -L puts "!" before the hash), then expired (chage -E 0).
	for _, change := range [][]string{{"usermod", "-L", user}, {"usermod", "-U", user}, {"chage", "-E", "0", user}} {
		out, err := exec.Command(change[0], change[1:]...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		c = dial(t, srv.Addr)
		c.OK("USER " + user)
		r := c.Cmd("PASS s3cret-pässword")
		if change[1] == "-U" {
			assert.True(t, r.OK, "unlocked again: %s", r.Line)
			c.Quit()
			continue
		}
		assert.False(t, r.OK, "after %q: %s", change, r.Line)
	}

	// root and the system accounts are below -first-valid-uid.
	c = dial(t, srv.Addr)
	c.OK("USER root")
	assert.False(t, c.Cmd("PASS anything").OK)
}

func TestSystemUsersUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-system-users"},
		{"-mbox", "/var/mail/%u"},
		{"-mbox", "/var/mail/%u", "-system-users", "-passwd", "/etc/pop3d/passwd"},
		{"-mbox", "/var/mail/%u", "-maildir", "%h/Maildir", "-system-users"},
		{"-mbox", "/var/mail/%u", "-passwd", "/etc/pop3d/passwd", "-first-valid-uid", "500"},
		{"-mbox", "/var/mail/%u", "-system-users", "-uidl-format", "%v.%u"},
		{"-maildir", "%h/Maildir", "-system-users", "-ignore-xuidl"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr, nil)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, "%q", args)
		assert.Contains(t, stderr.String(), "Usage: pop3d", "%q", args)
	}
}

// A -mbox template that names no user stops pop3d before it serves.
func TestMboxTemplateError(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-mbox", "/var/mail/shared", "-system-users"}, io.Discard, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-mbox: ")
}
