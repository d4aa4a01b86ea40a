package passwd_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopop3/pop3/passwd"
)

func ExampleVerify() {
	// As `doveadm pw -s SHA512-CRYPT -p secret` printed it.
	stored := "{SHA512-CRYPT}$6$w0joYdaP7M1pGCMp$9N9LUbUEwaS2TsYTAT/fVwJ8/5zKRScSIOoHHndcfMvC4y1VRYyTUpQAdp2mEW6.uQwUzojC3g0Yf1yNgtoB/."

	fmt.Println(passwd.Verify(stored, []byte("secret")))

	err := passwd.Verify(stored, []byte("guess"))
	fmt.Println(errors.Is(err, passwd.ErrMismatch))

	err = passwd.Verify("{SCRAM-SHA-256}4096,...", []byte("secret"))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// passwd: unknown password scheme (SCRAM-SHA-256)
}

func ExampleHash() {
	stored, err := passwd.Hash("BLF-CRYPT", []byte("secret"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stored[:len("{BLF-CRYPT}$2y$05$")])
	fmt.Println(passwd.Verify(stored, []byte("secret")))
	// Output:
	// {BLF-CRYPT}$2y$05$
	// <nil>
}

func ExamplePlaintext() {
	secret, ok := passwd.Plaintext("{PLAIN.B64}c2VjcmV0")
	fmt.Println(secret, ok)
	_, ok = passwd.Plaintext("{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=")
	fmt.Println(ok)
	// Output:
	// secret true
	// false
}

func ExampleOpenFile() {
	dir, err := os.MkdirTemp("", "passwd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users")
	content := strings.Join([]string{
		"# user:password:uid:gid:gecos:home:shell:extra_fields",
		"alice:{PLAIN}alice-pw:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir",
		"bob:{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=",
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		log.Fatal(err)
	}

	users, err := passwd.OpenFile(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	alice, err := users.Lookup(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alice.Home, alice.Extra)
	fmt.Println(passwd.Verify(alice.Password, []byte("alice-pw")))

	bob, err := users.Lookup(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(passwd.Verify(bob.Password, []byte("secret")))

	_, err = users.Lookup(ctx, "carol")
	fmt.Println(errors.Is(err, passwd.ErrNotFound))
	// Output:
	// /home/alice [userdb_mail=maildir:~/Maildir]
	// <nil>
	// <nil>
	// true
}

func ExampleCache() {
	// One cache per process, in front of every password check.
	cache := passwd.NewCache(passwd.DefaultCacheSize, passwd.DefaultCacheTTL)

	stored, _ := passwd.Hash("BLF-CRYPT", []byte("secret"))
	alice := &passwd.Entry{User: "alice", Password: stored, Home: "/home/alice"}

	fmt.Println(cache.Verify(alice, []byte("secret"))) // runs bcrypt
	fmt.Println(cache.Verify(alice, []byte("secret"))) // runs nothing
	err := cache.Verify(alice, []byte("guess"))        // runs bcrypt: failures are not cached
	fmt.Println(errors.Is(err, passwd.ErrMismatch))

	// The user database is down: the last good password still works.
	if e, ok := cache.Offline("alice", []byte("secret")); ok {
		fmt.Println("offline login of", e.User, "home", e.Home)
	}
	st := cache.Stats()
	fmt.Println("hits", st.Hits, "misses", st.Misses, "offline", st.Offline)
	// Output:
	// <nil>
	// <nil>
	// true
	// offline login of alice home /home/alice
	// hits 1 misses 2 offline 1
}

func ExampleOpenSystem() {
	// A server reads /etc/passwd and /etc/shadow: OpenSystem("", "").
	dir, err := os.MkdirTemp("", "system-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	passwdPath, shadowPath := filepath.Join(dir, "passwd"), filepath.Join(dir, "shadow")
	if err := os.WriteFile(passwdPath, []byte(
		"root:x:0:0:root:/root:/bin/bash\n"+
			"alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"+
			"bob:x:1001:1001:Bob,,,:/home/bob:/bin/bash\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	// alice's hash is yescrypt, as Debian 12 writes it (mkpasswd -m yescrypt);
	// bob's account is locked (passwd -l bob).
	if err := os.WriteFile(shadowPath, []byte(
		"root:$y$j9T$TwpDOFHkqTS/bXXLfp17X1$Fkfut7EWtKVyoYrZoC0YUpOxxnCcoH..oymHosS6gP/:19000:0:99999:7:::\n"+
			"alice:$y$j9T$TwpDOFHkqTS/bXXLfp17X1$Fkfut7EWtKVyoYrZoC0YUpOxxnCcoH..oymHosS6gP/:19000:0:99999:7:::\n"+
			"bob:!$y$j9T$TwpDOFHkqTS/bXXLfp17X1$Fkfut7EWtKVyoYrZoC0YUpOxxnCcoH..oymHosS6gP/:19000:0:99999:7:::\n"), 0o640); err != nil {
		log.Fatal(err)
	}

	users, err := passwd.OpenSystem(passwdPath, shadowPath)
	if err != nil {
		log.Fatal(err) // for /etc/shadow: run the server in group shadow
	}
	ctx := context.Background()
	alice, err := users.Lookup(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alice.UID, alice.Home, passwd.Verify(alice.Password, []byte("secret")))

	_, err = users.Lookup(ctx, "bob")
	fmt.Println(errors.Is(err, passwd.ErrInvalidEntry)) // locked
	_, err = users.Lookup(ctx, "root")
	fmt.Println(errors.Is(err, passwd.ErrInvalidEntry)) // uid 0 < FirstValidUID

	// Delivery still finds bob.
	bob, err := users.LookupUser(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(bob.Home)
	// Output:
	// 1000 /home/alice <nil>
	// true
	// true
	// /home/bob
}
