package mailuser

import (
	"errors"
	"fmt"
	"strings"
)

// The mail location drivers a userdb_mail extra field may name; see
// [Config.Driver].
const (
	driverMaildir = "maildir"
	driverMbox    = "mbox"
)

// errUnsupportedLocation is a per-user mail location (the userdb field
// mail) that the store cannot serve: the login fails.
var errUnsupportedLocation = errors.New("mail location not supported")

// ignoredLocationKeys are the keys of a mail location that do not move the
// INBOX's files or (for Maildir) its dovecot-uidlist, and so do not matter
// to a POP3 store: the index files, which it does not use, and settings of
// the other mailboxes. LAYOUT is ignored only as "Maildir++", Maildir's
// default.
var ignoredLocationKeys = map[string]bool{
	"INDEX": true, "INDEXPVT": true, "INDEXSHARED": true, "ITERINDEX": true, "LISTINDEX": true,
	"UTF-8": true, "BROKENCHAR": true, "NO-NOSELECT": true, "KEEP-NOSELECT": true, "SUBSCRIPTIONS": true,
}

// parseMailLocation reads a per-user mail location in Dovecot's syntax,
// "DRIVER:PATH[:KEY=VALUE...]", where "::" is a literal colon in PATH or a
// value, and returns the template of the path the store serves. DRIVER is
// matched in any letter case; another driver than driver, or a location
// without one (Dovecot's autodetection), is errUnsupportedLocation.
//
// For maildir, the path is PATH. For mbox, it is the value of the key
// INBOX, which is required, and PATH (the root of the other mailboxes) is
// ignored: a POP3 store serves the INBOX only. A path "~" or "~/..." is
// the home directory (%h); a path takes the variables of ParseTemplate but
// need not name the user, as parsePath reads it. The keys in
// ignoredLocationKeys and LAYOUT=Maildir++ are ignored, and for mbox any
// LAYOUT, which only places the other mailboxes; any other key
// (CONTROL, VOLATILEDIR, another LAYOUT, DIRNAME, and INBOX for maildir,
// ...) is errUnsupportedLocation, since it could move the files that
// Dovecot reads for POP3 away from where the store reads them.
func parseMailLocation(loc, driver string) (*Template, error) {
	name, rest, ok := strings.Cut(loc, ":")
	if !ok || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("%w: %q names no driver (as in \"%s:~/%s\"), and autodetection is not supported", errUnsupportedLocation, loc, driver, exampleRoot[driver])
	}
	if !strings.EqualFold(name, driver) {
		return nil, fmt.Errorf("%w: %q uses the driver %q; only %s is supported", errUnsupportedLocation, loc, name, driver)
	}
	args := splitLocation(rest)
	path := args[0]
	if driver == driverMbox {
		path = "" // the root of the other mailboxes: only INBOX= counts
	}
	for _, arg := range args[1:] {
		key, value, _ := strings.Cut(arg, "=")
		switch {
		case ignoredLocationKeys[key], key == "LAYOUT" && (driver == driverMbox || strings.EqualFold(value, "Maildir++")):
		case key == "INBOX" && driver == driverMbox:
			path = value
		default:
			return nil, fmt.Errorf("%w: %q has the option %q, which this package does not support", errUnsupportedLocation, loc, arg)
		}
	}
	switch {
	case path == "" && driver == driverMbox:
		return nil, fmt.Errorf("%w: %q has no INBOX=PATH, and autodetection is not supported", errUnsupportedLocation, loc)
	case path == "":
		return nil, fmt.Errorf("%w: %q has no path", errUnsupportedLocation, loc)
	case path == "~" || strings.HasPrefix(path, "~/"):
		path = "%h" + path[1:]
	}
	t, err := parsePath(path)
	if err != nil {
		return nil, fmt.Errorf("mail location %q: %w", loc, err)
	}
	return t, nil
}

// exampleRoot is the usual root of each driver's mail under the home
// directory, for the error of a location without a driver.
var exampleRoot = map[string]string{driverMaildir: "Maildir", driverMbox: "mail:INBOX=/var/mail/%u"}

// splitLocation splits the part of a mail location after the driver at
// its colons, reading "::" as a colon that belongs to the argument, and
// ignoring a trailing colon, as Dovecot's mailbox_list_settings_parse does.
// It returns at least one argument.
func splitLocation(s string) []string {
	fields := strings.Split(s, ":")
	var args []string
	for i := 0; i < len(fields); {
		arg := fields[i]
		i++
		for i < len(fields) && fields[i] == "" {
			i++
			if i == len(fields) {
				break // a trailing ":"
			}
			arg += ":" + fields[i]
			i++
		}
		args = append(args, arg)
	}
	return args
}
