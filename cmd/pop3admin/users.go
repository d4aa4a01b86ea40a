package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// useradd adds a user with an empty maildrop.
func useraddFlags(fs *flag.FlagSet) func(*env, []string) error {
	return passwordCommand(fs, "useradd", (*postgres.Backend).AddUser, "added user %q\n")
}

// passwd sets a user's password.
func passwdFlags(fs *flag.FlagSet) func(*env, []string) error {
	return passwordCommand(fs, "passwd", (*postgres.Backend).SetPassword, "set the password of %q\n")
}

// passwordCommand is a command that takes NAME and a password (or -hash)
// and gives the user and the hash to apply; done is what it prints then.
func passwordCommand(fs *flag.FlagSet, command string, apply func(*postgres.Backend, context.Context, string, string) error, done string) func(*env, []string) error {
	var d dbFlags
	var h hashFlags
	d.define(fs)
	h.define(fs, true)
	return func(e *env, args []string) error {
		name, err := nameArg(command, args)
		if err != nil {
			return err
		}
		if err := h.check(fs); err != nil {
			return err
		}
		// The password before the database: a prompt does not wait with a
		// connection open, and a typo costs no round trip.
		hash, err := h.passwordHash(e)
		if err != nil {
			return err
		}
		s, err := d.open(context.Background(), e, false)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := apply(s.backend, context.Background(), name, hash); err != nil {
			return describe(name, err)
		}
		fmt.Fprintf(e.stdout, done, passwd.NormalizeUsername(name))
		return nil
	}
}

// userdel deletes a user and their mail, unless a session holds the
// maildrop.
func userdelFlags(fs *flag.FlagSet) func(*env, []string) error {
	var d dbFlags
	d.define(fs)
	return func(e *env, args []string) error {
		name, err := nameArg("userdel", args)
		if err != nil {
			return err
		}
		s, err := d.open(context.Background(), e, false)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.backend.DeleteUser(context.Background(), name); err != nil {
			return describe(name, err)
		}
		fmt.Fprintf(e.stdout, "deleted user %q and their mail\n", passwd.NormalizeUsername(name))
		return nil
	}
}

// users lists the users in a table.
func usersFlags(fs *flag.FlagSet) func(*env, []string) error {
	var d dbFlags
	d.define(fs)
	return func(e *env, args []string) error {
		if err := noArgs("users", args); err != nil {
			return err
		}
		s, err := d.open(context.Background(), e, false)
		if err != nil {
			return err
		}
		defer s.Close()
		users, err := s.backend.Users(context.Background())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMESSAGES\tOCTETS\tLOCKED")
		for _, u := range users {
			locked := "-"
			if u.Locked {
				locked = "locked"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", u.Name, u.Messages, u.Size, locked)
		}
		return tw.Flush()
	}
}
