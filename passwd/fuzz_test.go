package passwd

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// cheapLimits lowers the limits for fuzzing: a fuzz worker that spends more
// than a second on one input is reported as hung, and the fuzzer soon finds
// a bcrypt cost of 18 or an Argon2 of gigabytes. Above these limits the
// checks still run, up to the error.
func cheapLimits(f *testing.F) {
	saved := limits
	f.Cleanup(func() { limits = saved })
	limits.cryptRounds = 20_000
	limits.bcryptCost = 6
	limits.argon2Memory = 1 << 10
	limits.argon2Work = 4 << 10
}

func FuzzVerify(f *testing.F) {
	cheapLimits(f)
	for _, h := range doveadmHashes {
		if strings.Contains(h.stored, "$argon2") || strings.Contains(h.stored, "$2y$08$") {
			continue // above the fuzzing limits: the fuzzer would keep them
		}
		f.Add(h.stored, []byte(doveadmPassword))
	}
	for _, v := range shaCryptVectors {
		if !strings.Contains(v.want, "rounds=77777") && !strings.Contains(v.want, "rounds=123456") {
			f.Add(v.want, []byte(v.password))
		}
	}
	for _, v := range otherCryptVectors {
		f.Add(v.stored, []byte(v.password))
	}
	f.Add("$argon2id$v=19$m=64,t=1,p=1$"+argon2Salt+"$"+argon2Key, []byte("secret"))
	f.Add("$argon2i$v=19$m=64,t=1,p=2$"+argon2Salt+"$"+argon2Key, []byte("secret"))
	for _, s := range []string{"", "{", "{}", "{PLAIN}", "{PLAIN.HEX}zz", "$", "$$", "$1$", "$5$rounds=", "$2y$", "ra3CvuCZ/anag", "{MD5}x"} {
		f.Add(s, []byte("secret"))
	}

	f.Fuzz(func(t *testing.T, stored string, password []byte) {
		err := Verify(stored, password)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnknownScheme) {
			t.Fatalf("Verify returned an error of no kind: %v", err)
		}
		msg := err.Error()
		// The message does not depend on the password...
		if other := Verify(stored, append(password, "\x00other"...)); other != nil && other.Error() != msg {
			t.Fatalf("the error depends on the password: %q and %q", msg, other.Error())
		}
		// ...and does not quote the hash: the messages are short, and a
		// long hash would show.
		if len(msg) > 200 {
			t.Fatalf("the error is %d characters long: %q", len(msg), msg)
		}
		if _, data, _ := splitScheme(stored); len(data) >= 40 && strings.Contains(msg, data) {
			t.Fatalf("the error quotes the hash: %v", err)
		}
		_, _ = Plaintext(stored)
	})
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"alice:{PLAIN}pw",
		"alice:{PLAIN}pw:1000:100:Alice:/home/alice:/bin/false:userdb_mail=maildir:~/Maildir nologin",
		"alice:{PLAIN}pw:1000:100::/home/alice:/bin/false::maildir:~/Maildir",
		"bob:5ebe2294ecd0e0f08eab7690d2a6ee69[34]",
		"bob:x[13]:",
		":x",
		"x",
		"a:b:c:d:e:f:g:h:i:j",
	} {
		f.Add(s)
	}
	file := &File{path: "fuzz", logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseLine(line)
		if err == nil {
			if e.User == "" || strings.ContainsAny(e.User, ":\n") {
				t.Fatalf("parseLine(%q) returned user %q", line, e.User)
			}
			for _, x := range e.Extra {
				if x == "" || strings.Contains(x, " ") {
					t.Fatalf("parseLine(%q) returned extra field %q", line, x)
				}
			}
		}
		if strings.Contains(line, "\n") {
			file.parse(line)
			return
		}
		users := file.parse(line + "\n" + line)
		counted := err == nil && !strings.HasPrefix(line, "#") && strings.TrimSpace(line) != ""
		if len(users) > 1 || counted && len(users) != 1 {
			t.Fatalf("a line and its duplicate made %d users", len(users))
		}
	})
}
