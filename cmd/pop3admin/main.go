// Command pop3admin manages the users of pop3d's PostgreSQL store, makes
// password hashes for a Dovecot passwd-file as "doveadm pw" does, and tests
// a login against a passwd-file, SQL or LDAP user database as "doveadm auth
// test" does.
//
// "pop3admin import" moves users to pop3d from another POP3 server: it
// copies their mail into pop3d's Maildirs or PostgreSQL store, each message
// under the unique-id the old server showed for it (RFC 1939 §7), so that
// clients that leave mail on the server download nothing again. It logs in
// with each user's password, or as a master user ("user*master", as
// Dovecot and UW servers accept), over TLS. A journal per user (under
// -state) and the store's own unique-ids make it resumable and idempotent:
// a rerun, or one after a crash, copies only what is not there yet, and a
// message that a user deleted after it was copied does not come back. The
// source is left untouched unless -delete is given, and then loses only
// messages the destination holds (under their unique-id with the same
// size, or in the journal); a message whose unique-id the destination
// shows on another message is reported, stays on the source, and fails
// its user.
// A line per user and a summary are printed; the exit status is 1 when
// any user failed, each named with the reason. (It is not "pop3admin
// migrate", which upgrades the database schema.)
//
// Run "pop3admin -h" for the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopop3/pop3/passwd"
)

// dsnEnv names the environment variable that holds the DSN, so that it
// need not be on the command line, where ps shows it to every local user.
const dsnEnv = "POP3_POSTGRES"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the operation failed: user exists, no such user, maildrop locked, database unreachable
	exitUsage  = 2 // a bad command line
)

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// env is what a command works with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dsn            string // -postgres before the command; resolved by connect
}

// command is one of pop3admin's commands.
type command struct {
	name     string
	synopsis string // the arguments after the name
	summary  string
	// flags defines the command's flags on fs; it may be nil.
	flags func(fs *flag.FlagSet) func(e *env, args []string) error
}

var commands = []command{
	{"pw", "[-s SCHEME]", "print the hash of a password read from stdin, for a Dovecot passwd-file", pwFlags},
	{"useradd", "[-s SCHEME | -hash HASH] NAME", "add a user with an empty maildrop; the password is read from stdin", useraddFlags},
	{"passwd", "[-s SCHEME | -hash HASH] NAME", "set a user's password; the new one is read from stdin", passwdFlags},
	{"userdel", "NAME", "delete a user and their mail; refused while a session holds the maildrop", userdelFlags},
	{"users", "", "list the users: messages, their octets, and whether a session holds the maildrop", usersFlags},
	{"migrate", "", "create the schema or upgrade it, and print the versions applied", migrateFlags},
	{"auth-test", "(-sql FILE | -ldap FILE | -passwd FILE | -system-users) [-maildir TEMPLATE | -mbox TEMPLATE] [-remote IP] NAME",
		"log NAME in as pop3d would (the password from stdin) and print the user's fields", authTestFlags},
	{"import", "-from URL (-users FILE | -master NAME [NAME...]) (-maildir TEMPLATE -passwd FILE | -postgres DSN)", "copy users' mail from another POP3 server into the store, each message under its UIDL there, so that clients download nothing again; a rerun copies only what is new (not migrate's schema upgrade)", importFlags},
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// run is the whole program; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("pop3admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in pop3admin's words
	fs.Usage = func() {}
	fs.StringVar(&e.dsn, "postgres", "", "")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		return report(stderr, &usageError{err.Error()})
	case fs.NArg() == 0:
		printUsage(stderr)
		return exitUsage
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		printUsage(stdout)
		return exitOK
	}
	cmd := lookup(name)
	if cmd == nil {
		return report(stderr, usagef("unknown command %q", name))
	}
	cfs := flag.NewFlagSet("pop3admin "+cmd.name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	cfs.Usage = func() {}
	do := cmd.flags(cfs)
	err = cfs.Parse(rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(stdout, cmd, cfs)
		return exitOK
	case err != nil:
		return report(stderr, usagef("%s: %v", cmd.name, err))
	}
	return report(stderr, do(e, cfs.Args()))
}

// report writes err, if any, to stderr and returns the exit code for it.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "pop3admin: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'pop3admin -h' for usage.")
		return exitUsage
	}
	return exitFailed
}

// nameArg returns the single NAME argument of a command.
func nameArg(cmd string, args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", usagef("%s: missing the user NAME", cmd)
	case len(args) > 1:
		return "", usagef("%s: unexpected argument %q after the user NAME", cmd, args[1])
	case args[0] == "":
		return "", usagef("%s: empty user NAME", cmd)
	}
	return args[0], nil
}

// noArgs refuses arguments to a command that takes none.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q", cmd, args[0])
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: pop3admin [-postgres DSN] COMMAND [flags] [NAME]\n\n"+
		"pop3admin manages the users of pop3d's PostgreSQL store, makes password hashes for a\n"+
		"Dovecot passwd-file as \"doveadm pw\" does, and tests logins against a passwd-file, SQL\n"+
		"or LDAP user database as \"doveadm auth test\" does.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n    \t%s\n", strings.TrimSpace(c.name+" "+c.synopsis), c.summary)
	}
	fmt.Fprintf(w, `
Flags:
  -postgres DSN
    	the PostgreSQL database: a URL (postgres://USER@HOST/DB) or "key=value ..."
    	string; it may also come after the command. Without it, $%[1]s is
    	used: prefer that, since ps shows a command line, password included, to
    	every local user.
  -s SCHEME
    	the password scheme of pw, useradd and passwd (default "%[2]s"); one of
    	%[3]s
  -hash HASH
    	useradd and passwd store this ready "{SCHEME}..." hash (doveadm pw's output)
    	instead of reading a password; - reads it from stdin, out of ps's sight

Passwords are read from stdin: one line, without its line end. On a terminal,
pop3admin asks twice, without echo.

Every command that uses the database first applies the schema migrations it
lacks (as "migrate" does; this is idempotent), so that pop3admin and the pop3d
nodes work with the same schema.

Exit status: 0 done; 1 the operation failed (the user exists, no such user, the
maildrop is locked, the database is unreachable, auth-test's login was refused);
2 a bad command line.
`, dsnEnv, defaultScheme, wrap(strings.Join(passwd.Schemes(), ", "), 72, "\t"))
}

func printCommandUsage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: pop3admin [-postgres DSN] %s\n\n%s%s.\n", strings.TrimSpace(cmd.name+" "+cmd.synopsis),
		strings.ToUpper(cmd.summary[:1]), cmd.summary[1:])
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nFlags:\n")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s %s\n    \t%s\n", f.Name, arg, usage)
	})
}

// wrap breaks s at spaces into lines of at most width, each after indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if line+1+len(word) > width {
				b.WriteString("\n    " + indent)
				line = 0
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
