package passwd

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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
	limits.yescryptMemory = 1 << 20
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

func FuzzVerifyYescrypt(f *testing.F) {
	// Cost 1 (N=2^10, r=8) is 1 MiB and 5 ms: the fuzzer keeps to it.
	saved := limits
	f.Cleanup(func() { limits = saved })
	limits.yescryptMemory = 1 << 20
	for _, v := range yescryptVectors {
		f.Add(v.stored, []byte(v.password))
	}
	for _, s := range []string{"$y$", "$y$$$", "$y$j75$$", "$y$j75$a$", "$y$jzz$x$y", "$y$j75.$abcd$x", "$gy$j75$abcd$x"} {
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
		if other := Verify(stored, append(password, "\x00other"...)); other != nil && other.Error() != err.Error() {
			t.Fatalf("the error depends on the password: %q and %q", err, other)
		}
		if _, data, _ := splitScheme(stored); len(data) >= 20 && strings.Contains(err.Error(), data) {
			t.Fatalf("the error quotes the hash: %v", err)
		}
	})
}

// fuzzSystem is a System of parsed files, for lookups without the files.
func fuzzSystem(passwd map[string]*passwdLine, badPasswd map[string]badLine,
	shadow map[string]*shadowLine, badShadow map[string]badLine, today int64) *System {
	return &System{
		FirstValidUID: DefaultFirstValidUID,
		now:           func() time.Time { return time.Unix(today*86400, 0) },
		passwd:        systemFile[*passwdLine]{path: "passwd", users: passwd, bad: badPasswd},
		shadow:        systemFile[*shadowLine]{path: "shadow", users: shadow, bad: badShadow},
	}
}

// checkSystemNames checks the names parseSystemFile kept.
func checkSystemNames[T any](t *testing.T, users map[string]T, bad map[string]badLine) {
	for name := range users {
		if name == "" || strings.ContainsAny(name, ":\n") || strings.ContainsAny(name[:1], "+-# \t") {
			t.Fatalf("a user named %q", name)
		}
		if _, ok := bad[name]; ok {
			t.Fatalf("%q is both a user and a bad line", name)
		}
	}
	for name, b := range bad {
		if name == "" || b.line < 1 || b.err == nil {
			t.Fatalf("bad line %+v of %q", b, name)
		}
	}
}

// checkLookupError checks that a lookup failed with one of its errors.
func checkLookupError(t *testing.T, err error) {
	if err != nil && !errors.Is(err, ErrInvalidEntry) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("a lookup returned an error of no kind: %v", err)
	}
}

func FuzzParsePasswd(f *testing.F) {
	for _, s := range []string{
		"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n",
		"bob:$1$3azHgidD$SrJPt7B.9rekpmwJwtON31:1001:1001::/home/bob:/bin/sh",
		"+::::::\n-bob\n+@staff:x:::::\n# comment\n\n  \t",
		"carol:x:1002:1002::/home/carol:/bin/sh\r\ncarol:x:1003",
		"dave:x:4294967295:1:::\ndave:x:4294967296:1:::",
		"erin:*:1004:1004::/:\nfrank::1005:1005:::\ngrace:!x:1006:1006:::",
		":x:1:1:::\nx\n::::::::::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		users, bad := parseSystemFile(content, parsePasswdFields)
		checkSystemNames(t, users, bad)
		for name, u := range users {
			uid, err := strconv.ParseUint(u.uid, 10, 32)
			if u.name != name || err != nil || uint32(uid) != u.uidNum {
				t.Fatalf("line of %q: %+v", name, u)
			}
		}
		s := fuzzSystem(users, bad, map[string]*shadowLine{}, map[string]badLine{}, testToday)
		for _, name := range slices.Concat(slices.Collect(maps.Keys(users)), slices.Collect(maps.Keys(bad))) {
			e, err := s.lookup(name)
			checkLookupError(t, err)
			if err == nil && (e.Password == "" || e.Password == "x" || e.User != name) {
				t.Fatalf("Lookup(%q) = %+v", name, e)
			}
			e, err = s.lookupUser(name)
			checkLookupError(t, err)
			if err == nil && (e.Password != "" || e.User != name) {
				t.Fatalf("LookupUser(%q) = %+v", name, e)
			}
		}
	})
}

func FuzzParseShadow(f *testing.F) {
	for _, s := range []string{
		"root:*:19000:0:99999:7:::\nalice:$y$j9T$abcd$pqskBGfYuqGBpswYbZZNQEpyakNzB0r4YPf9t4Ca/eD:19000:0:99999:7:::\n",
		"bob:!$6$x$y:19000:0:30:7:10:20001:",
		"carol:$1$3azHgidD$SrJPt7B.9rekpmwJwtON31:0:::::",
		"dave::19000:0:99999:7::1:\ndave:x:::::::",
		"erin:x:-1:-1:-1:-1:-1:-1:-1\nfrank:x:+5:2147483647:2147483648::::",
		"+::::::::\n# comment\ngrace:x:1:2:3:4:5:6:7:8",
	} {
		f.Add(s, int64(testToday))
	}
	f.Fuzz(func(t *testing.T, content string, today int64) {
		users, bad := parseSystemFile(content, parseShadowFields)
		checkSystemNames(t, users, bad)
		passwd := make(map[string]*passwdLine)
		for name, sh := range users {
			_ = sh.checkAging(today)
			passwd[name] = &passwdLine{name: name, password: "x", uid: "1000", gid: "1000", uidNum: 1000}
		}
		for name := range bad {
			passwd[name] = &passwdLine{name: name, password: "x", uid: "1000", gid: "1000", uidNum: 1000}
		}
		// The day is a clock's: keep it within what time.Unix can hold.
		s := fuzzSystem(passwd, map[string]badLine{}, users, bad, today%(1<<40))
		for name := range passwd {
			e, err := s.lookup(name)
			checkLookupError(t, err)
			if err == nil && (e.Password == "" || e.Password[0] == '!' || e.Password[0] == '*' || e.Password == "x") {
				t.Fatalf("Lookup(%q) let in the password field %q", name, e.Password)
			}
			if _, bad := bad[name]; bad && err == nil {
				t.Fatalf("Lookup(%q) let in a user whose shadow line does not parse", name)
			}
		}
	})
}
