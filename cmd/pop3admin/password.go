package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/gopop3/pop3/passwd"
)

// defaultScheme is the scheme of -s: bcrypt, which Dovecot and crypt(3)
// read everywhere. (doveadm pw's own default, CRAM-MD5, is not made here.)
const defaultScheme = "BLF-CRYPT"

// maxPassword is the longest password read, in octets.
const maxPassword = 1024

var errEmptyPassword = errors.New("empty password: give it on stdin, one line")

// hashFlags are -s and, for useradd and passwd, -hash.
type hashFlags struct {
	scheme string
	hash   string // a ready hash; "" to read a password
}

func (h *hashFlags) define(fs *flag.FlagSet, withHash bool) {
	fs.StringVar(&h.scheme, "s", defaultScheme, "hash the password in `SCHEME` (pop3admin -h lists them)")
	if withHash {
		fs.StringVar(&h.hash, "hash", "", "store this ready `HASH` (\"{SCHEME}...\", as pw prints it) instead of reading a password; - reads it from stdin, out of ps's sight")
	}
}

// check validates the flags before anything is read or connected to.
func (h *hashFlags) check(fs *flag.FlagSet) error {
	schemeSet := false
	fs.Visit(func(f *flag.Flag) { schemeSet = schemeSet || f.Name == "s" })
	if h.hash != "" {
		if schemeSet {
			return usagef("-s and -hash: give a scheme to hash a password with, or a ready hash, not both")
		}
		if h.hash == "-" {
			return nil // checked once read
		}
		return checkHash(h.hash)
	}
	// Hash checks the scheme before the password: an empty one costs
	// nothing and tells an unknown scheme.
	if _, err := passwd.Hash(h.scheme, nil); errors.Is(err, passwd.ErrUnknownScheme) {
		return usagef("unknown password scheme %q; choose one of %s", h.scheme, strings.Join(passwd.Schemes(), ", "))
	}
	return nil
}

// checkHash refuses a -hash that the store would refuse.
func checkHash(hash string) error {
	err := passwd.CheckHash(hash)
	switch {
	case err == nil:
		return nil
	case !strings.HasPrefix(hash, "{"):
		return usagef("-hash: not a \"{SCHEME}...\" hash: %v", err)
	}
	return usagef("-hash: not a usable password hash: %v", err)
}

// passwordHash returns the -hash, or hashes a password read from stdin.
func (h *hashFlags) passwordHash(e *env) (string, error) {
	if h.hash == "-" {
		line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("reading the hash from stdin: %w", err)
		}
		hash := strings.TrimRight(line, "\r\n")
		return hash, checkHash(hash)
	}
	if h.hash != "" {
		if scheme, _, _ := strings.Cut(strings.TrimPrefix(h.hash, "{"), "}"); strings.EqualFold(scheme, "PLAIN") || strings.EqualFold(scheme, "CLEAR") || strings.EqualFold(scheme, "CLEARTEXT") {
			fmt.Fprintln(e.stderr, "pop3admin: warning: a {PLAIN} hash on the command line is a password that ps shows to every local user; use -hash - and stdin")
		}
		return h.hash, nil
	}
	pw, err := readPassword(e.stdin, e.stderr)
	if err != nil {
		return "", err
	}
	defer clear(pw)
	return passwd.Hash(h.scheme, pw)
}

// readPassword reads a new password from in: one line, without its "\n" or
// "\r\n". When in is a terminal, it asks on prompt twice, without echo.
func readPassword(in io.Reader, prompt io.Writer) ([]byte, error) {
	return readPasswordFrom(in, prompt, true)
}

// readPasswordFrom is readPassword; on a terminal it asks twice only when
// confirm is set (for a new password, not for one being tried).
func readPasswordFrom(in io.Reader, prompt io.Writer, confirm bool) ([]byte, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return readTerminal(int(f.Fd()), prompt, confirm)
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxPassword+2)).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the password from stdin: %w", err)
	}
	if l, ok := bytes.CutSuffix(line, []byte("\n")); ok {
		line, _ = bytes.CutSuffix(l, []byte("\r"))
	}
	return checkPassword(line)
}

func checkPassword(pw []byte) ([]byte, error) {
	switch {
	case len(pw) == 0:
		return nil, errEmptyPassword
	case len(pw) > maxPassword:
		clear(pw)
		return nil, fmt.Errorf("the password is longer than %d octets", maxPassword)
	}
	return pw, nil
}

// readTerminal asks for the password, twice when confirm is set, with echo
// off. An interrupt while it waits restores the terminal's echo before
// exiting.
func readTerminal(fd int, prompt io.Writer, confirm bool) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("reading the password from the terminal: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sig)
		close(done)
	}()
	go func() {
		select {
		case <-sig:
			_ = term.Restore(fd, state)
			fmt.Fprintln(prompt)
			os.Exit(130)
		case <-done:
		}
	}()

	ask := func(question string) ([]byte, error) {
		fmt.Fprint(prompt, question)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the password from the terminal: %w", err)
		}
		return checkPassword(pw)
	}
	if !confirm {
		return ask("Password: ")
	}
	first, err := ask("Enter new password: ")
	if err != nil {
		return nil, err
	}
	second, err := ask("Retype new password: ")
	if err != nil {
		clear(first)
		return nil, err
	}
	defer clear(second)
	if !bytes.Equal(first, second) {
		clear(first)
		return nil, errors.New("the passwords do not match")
	}
	return first, nil
}
