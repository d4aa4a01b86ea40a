package pop3_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/internal/syncbuf"
	"github.com/gopop3/pop3/memory"
	"github.com/gopop3/pop3/pop3test"
)

// Nothing that can hold a credential reaches the log or the Debug trace.
func TestCredentialsNeverLogged(t *testing.T) {
	const password = "S3cr3t-P4ss word"
	b := memory.New()
	require.NoError(t, b.AddUser("alice", password))
	trace := &syncbuf.Buffer{}
	ts := pop3test.NewServer(t, b, pop3test.WithConfig(func(srv *pop3.Server) { srv.Debug = trace }))

	c := ts.Dial()
	c.ReadReply()
	digest := pop3.APOPDigest(c.Timestamp(), password)
	plain := b64("\x00alice\x00" + password)
	c.Transcript(`
		C: USER alice
		S: +OK send PASS
		C: PASS ` + password + `x
		S: -ERR [AUTH] authentication failed
		C: AUTH PLAIN ` + plain + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
	`)
	c = ts.Dial()
	c.ReadReply()
	c.Transcript(`
		C: AUTH LOGIN
		S: + ` + b64("Username:") + `
		C: ` + b64("alice") + `
		S: + ` + b64("Password:") + `
		C: ` + b64(password) + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
	`)
	c = ts.Dial()
	c.ReadReply()
	digest = pop3.APOPDigest(c.Timestamp(), password)
	c.Transcript(`
		C: APOP alice ` + digest + `
		S: +OK maildrop has 0 messages (0 octets)
		C: QUIT
		S: +OK bye, 0 messages left
		S: <closed>
	`)
	require.NoError(t, ts.Config.Close())

	logs := ts.Logs()
	all := logs + trace.String()
	for _, secret := range []string{"S3cr3t", plain, b64(password), digest} {
		assert.NotContains(t, all, secret)
	}
	assert.Contains(t, trace.String(), "C: USER alice")
	assert.Contains(t, trace.String(), "C: PASS <redacted>")
	assert.Contains(t, trace.String(), "C: AUTH PLAIN <redacted>")
	assert.Contains(t, trace.String(), "C: APOP alice <redacted>")
	assert.Contains(t, trace.String(), "S: +OK maildrop has 0 messages")
	assert.Contains(t, logs, "session ended")
	assert.Contains(t, logs, "user=alice")
}

// nilUser is a User whose Open breaks the contract: no Mailbox, no error.
type nilUser struct{}

func (nilUser) Open(context.Context) (pop3.Mailbox, error) { return nil, nil }

// nilReaderBox is a Mailbox whose Message breaks the contract: no reader,
// no error.
type nilReaderBox struct{}

func (nilReaderBox) Messages() []pop3.MessageInfo {
	return []pop3.MessageInfo{{Size: 3, UID: "a"}}
}
func (nilReaderBox) Message(context.Context, int) (io.ReadCloser, error) { return nil, nil }
func (nilReaderBox) Delete(context.Context, []int) error                 { return nil }
func (nilReaderBox) Close() error                                        { return nil }

type nilReaderUser struct{}

func (nilReaderUser) Open(context.Context) (pop3.Mailbox, error) { return nilReaderBox{}, nil }

// TestBackendNilResults: a backend method that returns neither a result
// nor an error is a bug the log names, method and all, rather than a nil
// pointer panic; the client is told to try again later.
func TestBackendNilResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   pop3.User
		script string
		log    string
	}{
		{"Login", nil, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] login failed, try again later",
			"Backend.Login returned a nil User and a nil error"},
		{"Open", nilUser{}, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: -ERR [SYS/TEMP] open failed, try again later",
			"User.Open returned a nil Mailbox and a nil error"},
		{"Message", nilReaderUser{}, "C: USER alice\nS: +OK send PASS\nC: PASS secret\nS: +OK maildrop has 1 message (3 octets)\n" +
			"C: RETR 1\nS: -ERR [SYS/TEMP] read failed, try again later\nC: TOP 1 0\nS: -ERR [SYS/TEMP] read failed, try again later\nC: QUIT\nS: +OK bye, 1 message left",
			"Mailbox.Message returned a nil reader and a nil error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := pop3test.NewServer(t, pop3.BackendFunc(func(context.Context, *pop3.ConnInfo, string, string) (pop3.User, error) {
				return tc.user, nil
			}))
			ts.Dial().Transcript("S: +OK POP3 server ready\n" + tc.script)
			assert.Contains(t, ts.Logs(), tc.log)
			assert.NotContains(t, ts.Logs(), "panic")
		})
	}
}
