package main

import (
	"flag"
	"fmt"
)

// pw prints the hash of a password, for a Dovecot passwd-file.
func pwFlags(fs *flag.FlagSet) func(*env, []string) error {
	var h hashFlags
	h.define(fs, false)
	return func(e *env, args []string) error {
		if err := noArgs("pw", args); err != nil {
			return err
		}
		if err := h.check(fs); err != nil {
			return err
		}
		hash, err := h.passwordHash(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(e.stdout, hash)
		return err
	}
}
