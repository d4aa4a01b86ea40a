package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopop3/pop3/memory"
)

// passwordFile is the name of the file that holds a loaded user's password.
const passwordFile = "password"

// loaded summarises the mailboxes put into the backend, for the
// instructions printed at start-up.
type loaded struct {
	users       []string
	messages    int
	exampleUser string // the user shown in the instructions
	examplePass string // their password, or a placeholder when loaded
}

// loadDir adds to b the users and messages of dir: each subdirectory
// dir/USER is a user whose password is the first line of dir/USER/password
// (without its CR/LF), and every other regular file in it is one raw
// message, in file-name order. Names starting with "." are skipped, as are
// regular files directly in dir and subdirectories of a user's directory.
func loadDir(b *memory.Backend, dir string) (*loaded, error) {
	entries, err := os.ReadDir(dir) // sorted by file name
	if err != nil {
		return nil, err
	}
	var l loaded
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if !isDir(e, path) {
			continue
		}
		n, err := loadUser(b, e.Name(), path)
		if err != nil {
			return nil, err
		}
		l.users = append(l.users, e.Name())
		l.messages += n
	}
	if len(l.users) == 0 {
		return nil, fmt.Errorf("%s: no user directories (want %s/USER/%s and one file per message)",
			dir, dir, passwordFile)
	}
	l.exampleUser, l.examplePass = l.users[0], "PASSWORD"
	return &l, nil
}

// loadUser adds the user whose directory is dir and returns how many
// messages they have.
func loadUser(b *memory.Backend, user, dir string) (int, error) {
	pwPath := filepath.Join(dir, passwordFile)
	password, err := readPassword(pwPath)
	if err != nil {
		return 0, err
	}
	if err := b.AddUser(user, password); err != nil {
		return 0, fmt.Errorf("%s: user %q: %w", dir, user, err)
	}

	entries, err := os.ReadDir(dir) // sorted by file name
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if hidden(e.Name()) || e.Name() == passwordFile {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if !isRegular(e, path) {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		if _, err := b.AppendMessage(user, raw); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		n++
	}
	return n, nil
}

// readPassword returns the first line of the file at path, without its
// line end.
func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: missing password file (its first line is the user's password)", path)
	}
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", fmt.Errorf("%s: empty password", path)
	}
	return string(line), nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// isDir reports whether e, found at path, is a directory or a symbolic
// link to one.
func isDir(e fs.DirEntry, path string) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.IsDir()
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// isRegular reports whether e, found at path, is a regular file or a
// symbolic link to one.
func isRegular(e fs.DirEntry, path string) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.Type().IsRegular()
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// loadDemo adds the demo user and their welcome messages to b.
func loadDemo(b *memory.Backend, domain string, now time.Time) (*loaded, error) {
	const user, pass = "demo", "demo"
	if err := b.AddUser(user, pass); err != nil {
		return nil, err
	}
	msgs := demoMessages(domain, now)
	for _, m := range msgs {
		if _, err := b.AppendMessage(user, m); err != nil {
			return nil, err
		}
	}
	return &loaded{users: []string{user}, messages: len(msgs), exampleUser: user, examplePass: pass}, nil
}

// demoMessages returns the demo user's welcome messages, with LF line ends
// (the backend turns them into CRLF).
func demoMessages(domain string, now time.Time) [][]byte {
	date := now.Format(time.RFC1123Z) // RFC 5322 date-time
	header := func(n int, subject string) string {
		return "From: pop3d <postmaster@" + domain + ">\n" +
			"To: Demo User <demo@" + domain + ">\n" +
			"Subject: " + subject + "\n" +
			"Date: " + date + "\n" +
			fmt.Sprintf("Message-ID: <welcome-%d.%d@%s>\n", n, now.Unix(), domain) +
			"MIME-Version: 1.0\n" +
			"Content-Type: text/plain; charset=us-ascii\n" +
			"\n"
	}
	welcome := header(1, "Welcome to pop3d") + `Hello!

This message comes from pop3d, the demo server of github.com/gopop3/pop3,
an embeddable POP3 server library for Go. Your mailbox lives in memory:
what you delete is gone until the server restarts, and then it comes back.

Things to try once logged in (USER demo, then PASS demo):

  STAT        the number of messages and their total size in octets
  LIST        one line per message: its number and its size
  UIDL        the unique-id of each message, stable across sessions
  RETR 1      this message
  TOP 2 5     the header of message 2 and the first 5 lines of its body
  DELE 1      mark message 1 for deletion (RSET takes the marks back)
  CAPA        the capabilities the server offers
  QUIT        end the session: marked messages are removed only now

Message 2 shows how POP3 copes with lines that start with a dot.

Have fun,
pop3d
`
	dots := header(2, "Lines that start with a dot") + `A POP3 server ends a multi-line reply, such as RETR, with a line that
holds a single dot. So what happens to a line of a message that begins
with a dot? The server doubles the dot ("dot-stuffing", RFC 1939 section 3)
and the client takes it away again. RETR 2 by hand (nc or telnet) to see
it: the two lines below start with one dot here and with two on the wire.

.signature files used to be hidden, like every name that starts with a dot.
.
The line above is a lone dot: on the wire it is "..", so it does not end
the reply early.

STAT and LIST count the octets before stuffing, so the extra dots do not
show in the sizes.

pop3d
`
	return [][]byte{[]byte(welcome), []byte(dots)}
}
