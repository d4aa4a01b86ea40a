package pop3test

import (
	"encoding/base64"
	"errors"
	"sync"
	"testing"

	"github.com/gopop3/pop3"
)

func (k *kit) testLogin(t *testing.T) {
	run(t, "right password gives the user", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, a := range accounts() {
			login(t, b, a)
		}
		srv := serve(t, b)
		c := session(srv, alice)
		c.Quit()
	})

	run(t, "wrong password fails with ErrAuthFailed", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, pw := range []string{alice.Password + "x", alice.Password[:len(alice.Password)-1], "", bob.Password} {
			u, err := b.Login(ctx(t), connInfo(), alice.Username, pw)
			if u != nil || !isAuthFailed(err) {
				t.Errorf("Login(%q, wrong password %q) = %v, %v; want nil, pop3.ErrAuthFailed", alice.Username, pw, u, err)
			}
		}
		c := serve(t, b).Dial()
		c.OK("USER " + alice.Username)
		if r := c.Cmd("PASS wrong"); r.OK || r.Code != pop3.CodeAuth {
			t.Errorf("PASS with a wrong password: %q, want -ERR [AUTH] ...", r.Line)
		}
	})

	run(t, "unknown user fails like a wrong password", func(t *testing.T) {
		b := k.backend(t, accounts())
		for _, name := range []string{"nobody", "alic", "alicex", ""} {
			u, err := b.Login(ctx(t), connInfo(), name, alice.Password)
			if u != nil || !isAuthFailed(err) {
				t.Errorf("Login(unknown user %q) = %v, %v; want nil, pop3.ErrAuthFailed", name, u, err)
			}
			if errors.Is(err, pop3.ErrNoSuchUser) {
				t.Errorf("Login(unknown user %q) returned pop3.ErrNoSuchUser, which tells it from a wrong password", name)
			}
		}
		srv := serve(t, b)
		wrongPass, unknownUser := srv.Dial(), srv.Dial()
		wrongPass.OK("USER " + alice.Username)
		if r := unknownUser.Cmd("USER nobody"); !r.OK {
			t.Errorf("USER of an unknown user: %q; the server must not tell before PASS", r.Line)
		}
		got1, got2 := wrongPass.Cmd("PASS wrong-password"), unknownUser.Cmd("PASS wrong-password")
		if got1.Line != got2.Line {
			t.Errorf("a client can tell an unknown user from a wrong password:\n\twrong password: %s\n\tunknown user:   %s", got1.Line, got2.Line)
		}
		if got1.OK {
			t.Errorf("PASS with a wrong password: %q", got1.Line)
		}
	})

	run(t, "concurrent logins of different users", func(t *testing.T) {
		b := k.backend(t, accounts())
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for range 10 {
			for _, a := range accounts() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer catch(t)
					u, err := b.Login(ctx(t), connInfo(), a.Username, a.Password)
					if err != nil || u == nil {
						errs <- errors.Join(errors.New("Login("+a.Username+") in parallel failed"), err)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Sessions of every user at once, each with its own maildrop.
		srv := serve(t, b)
		clients := make([]*Client, len(accounts()))
		for i, a := range accounts() {
			clients[i] = srv.Dial()
			clients[i].Greeting()
			clients[i].Send("USER " + a.Username)
		}
		for i, a := range accounts() {
			clients[i].ReadReply()
			clients[i].Send("PASS " + a.Password)
		}
		for i, a := range accounts() {
			if r := clients[i].ReadReply(); !r.OK {
				t.Errorf("%s, logging in while the others do: %s", a.Username, r.Line)
				continue
			}
			if got := len(clients[i].OK("LIST").Lines()); got != len(a.Messages) {
				t.Errorf("%s sees %d messages in a concurrent session, want %d", a.Username, got, len(a.Messages))
			}
		}
	})
}

func (k *kit) testAPOP(t *testing.T) {
	// RFC 1939 §7's example: the secret "tanstaaf" with this timestamp.
	const (
		timestamp = "<1896.697170952@dbc.mtview.ca.us>"
		digest    = "c4c9334bac560ecc979e58001b3e22fb"
	)
	skipUnlessAPOP := func(t *testing.T, b pop3.Backend) pop3.APOPBackend {
		t.Helper()
		ab, ok := b.(pop3.APOPBackend)
		if !ok {
			t.Skip("the backend does not implement pop3.APOPBackend")
		}
		return ab
	}

	run(t, "RFC 1939 example digest logs in", func(t *testing.T) {
		ab := skipUnlessAPOP(t, k.backend(t, accounts()))
		u, err := ab.LoginAPOP(ctx(t), connInfo(), mrose.Username, timestamp, digest)
		if err != nil || u == nil {
			t.Fatalf("LoginAPOP(mrose, %s, %s) = %v, %v; want the user (secret %q)", timestamp, digest, u, err, mrose.Password)
		}
		openUser(t, u, mrose.Username).close(t)
	})

	run(t, "wrong digest fails with ErrAuthFailed", func(t *testing.T) {
		ab := skipUnlessAPOP(t, k.backend(t, accounts()))
		for _, d := range []string{"c4c9334bac560ecc979e58001b3e22fa", pop3.APOPDigest(timestamp, "tanstaa"), "", "not hex"} {
			u, err := ab.LoginAPOP(ctx(t), connInfo(), mrose.Username, timestamp, d)
			if u != nil || !isAuthFailed(err) {
				t.Errorf("LoginAPOP(mrose, wrong digest %q) = %v, %v; want nil, pop3.ErrAuthFailed", d, u, err)
			}
		}
	})

	run(t, "unknown user fails like a wrong digest", func(t *testing.T) {
		ab := skipUnlessAPOP(t, k.backend(t, accounts()))
		u, err := ab.LoginAPOP(ctx(t), connInfo(), "nobody", timestamp, digest)
		if u != nil || !isAuthFailed(err) {
			t.Errorf("LoginAPOP(unknown user) = %v, %v; want nil, pop3.ErrAuthFailed", u, err)
		}
	})

	run(t, "APOP on the wire with the greeting's timestamp", func(t *testing.T) {
		b := k.backend(t, accounts())
		skipUnlessAPOP(t, b)
		srv := serve(t, b)
		c := srv.Dial()
		ts := c.Timestamp()
		if ts == "" {
			t.Fatalf("the greeting of an APOP backend has no timestamp: %q", c.Greeting())
		}
		wrong := c.Cmd("APOP " + alice.Username + " " + pop3.APOPDigest(ts, "wrong"))
		if wrong.OK {
			t.Errorf("APOP with a wrong secret: %q", wrong.Line)
		}
		c = srv.Dial()
		if unknown := c.Cmd("APOP nobody " + pop3.APOPDigest(c.Timestamp(), "wrong")); unknown.Line != wrong.Line {
			t.Errorf("a client can tell an unknown user from a wrong secret:\n\twrong secret: %s\n\tunknown user: %s", wrong.Line, unknown.Line)
		}
		c = srv.Dial()
		c.OK("APOP " + alice.Username + " " + pop3.APOPDigest(c.Timestamp(), alice.Password))
		if got := len(c.OK("LIST").Lines()); got != len(alice.Messages) {
			t.Errorf("after APOP, LIST shows %d messages, want %d", got, len(alice.Messages))
		}
		c.Quit()
	})
}

func (k *kit) testAuth(t *testing.T) {
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}
	run(t, "PLAIN logs in with the password", func(t *testing.T) {
		c := serve(t, k.backend(t, accounts())).Dial()
		c.OK("AUTH PLAIN " + plain(alice.Username, alice.Password))
		c.OK("STAT")
	})
	run(t, "PLAIN with a wrong password fails", func(t *testing.T) {
		c := serve(t, k.backend(t, accounts())).Dial()
		if r := c.Cmd("AUTH PLAIN " + plain(alice.Username, "wrong")); r.OK || r.Code != pop3.CodeAuth {
			t.Errorf("AUTH PLAIN with a wrong password: %q, want -ERR [AUTH] ...", r.Line)
		}
	})
	run(t, "backend mechanisms refuse bad credentials", func(t *testing.T) {
		b := k.backend(t, accounts())
		sb, ok := b.(pop3.SASLBackend)
		if !ok {
			t.Skip("the backend does not implement pop3.SASLBackend")
		}
		mechs := sb.SASLMechanisms(connInfo())
		if len(mechs) == 0 {
			t.Skip("the backend offers no SASL mechanism of its own on a loopback connection")
		}
		srv := serve(t, b)
		for _, mech := range mechs {
			c := srv.Dial()
			// A response no mechanism accepts: a made-up token.
			bogus := base64.StdEncoding.EncodeToString([]byte("\x00nobody\x00bogus-credential"))
			r := c.Cmd("AUTH " + mech + " " + bogus)
			cancelled := false
			for r.Continuation {
				r = c.Cmd(bogus)
				if r.Continuation {
					r, cancelled = c.Cmd("*"), true // cancel (RFC 5034 §4)
				}
			}
			switch {
			case r.OK:
				t.Errorf("AUTH %s with a bogus credential logged in: %q", mech, r.Line)
			case r.Code == "" && !cancelled:
				// A failed exchange carries [AUTH] or the backend's code;
				// a bare -ERR is the server refusing the command.
				t.Errorf("AUTH %s, a mechanism the backend lists, was refused as a command: %q", mech, r.Line)
			}
		}
	})
	run(t, "backend PLAIN and LOGIN log in with the password", func(t *testing.T) {
		b := k.backend(t, accounts())
		sb, ok := b.(pop3.SASLBackend)
		if !ok {
			t.Skip("the backend does not implement pop3.SASLBackend")
		}
		ran := false
		srv := serve(t, b)
		for _, mech := range sb.SASLMechanisms(connInfo()) {
			switch mech {
			case "PLAIN":
				ran = true
				srv.Dial().OK("AUTH PLAIN " + plain(alice.Username, alice.Password))
			case "LOGIN":
				ran = true
				c := srv.Dial()
				c.Cmd("AUTH LOGIN")
				c.Cmd(base64.StdEncoding.EncodeToString([]byte(alice.Username)))
				if r := c.Cmd(base64.StdEncoding.EncodeToString([]byte(alice.Password))); !r.OK {
					t.Errorf("the backend's AUTH LOGIN refused the right password: %q", r.Line)
				}
			}
		}
		if !ran {
			t.Skip("the backend replaces neither PLAIN nor LOGIN; its own mechanisms need credentials the kit cannot make")
		}
	})
}
