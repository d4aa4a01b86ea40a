package mailuser

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A location is read as Dovecot reads it, for each driver: the path the
// store serves, expanded for bob@example.com with home /home/bob, or
// refused as not supported.
func TestParseMailLocation(t *testing.T) {
	for _, tc := range []struct {
		driver, loc string
		want        string // the expansion; "" for errUnsupportedLocation
	}{
		{"maildir", "maildir:~/Maildir", "/home/bob/Maildir"},
		{"maildir", "maildir:~", "/home/bob"},
		{"maildir", "MailDir:/srv/%d/%n", "/srv/example.com/bob"},
		{"maildir", "maildir:/srv/a::b/%u:", "/srv/a:b/bob@example.com"},
		{"maildir", "maildir:/srv/%u:INDEX=/idx/%u:LAYOUT=maildir++:UTF-8", "/srv/bob@example.com"},
		{"maildir", "maildir:/shared", "/shared"},
		{"maildir", "maildir:", ""},
		{"maildir", "maildir:~/Maildir:INBOX=/var/mail/%u", ""},
		{"maildir", "maildir:~/Maildir:CONTROL=~/control", ""},
		{"maildir", "maildir:~/Maildir:LAYOUT=fs", ""},
		{"maildir", "mbox:~/mail:INBOX=/var/mail/%u", ""},
		{"maildir", "/home/bob/Maildir", ""},
		{"maildir", "~/Maildir", ""},

		{"mbox", "mbox:~/mail:INBOX=/var/mail/%u", "/var/mail/bob@example.com"},
		{"mbox", "MBOX:~/mail:INBOX=/var/spool/mail/%n", "/var/spool/mail/bob"},
		{"mbox", "mbox:~/mail:INBOX=~/mbox", "/home/bob/mbox"},
		{"mbox", "mbox:~/mail:INBOX=~", "/home/bob"},
		{"mbox", "mbox::INBOX=/var/mail/%n", "/var/mail/bob"},
		{"mbox", "mbox:/no/such/root/%x:INBOX=/var/mail/%n", "/var/mail/bob"}, // the root is not read
		{"mbox", "mbox:~/mail:INBOX=/var/mail/first:INBOX=/var/mail/%n", "/var/mail/bob"},
		{"mbox", "mbox:~/mail:INDEX=/idx/%u:INBOX=/var/mail/a::b/%n", "/var/mail/a:b/bob"},
		{"mbox", "mbox:~/mail", ""},
		{"mbox", "mbox:~/mail:INBOX=", ""},
		{"mbox", "mbox:~/mail:INBOX=/var/mail/%u:CONTROL=~/control", ""},
		{"mbox", "mbox:~/mail:INBOX=/var/mail/%u:LAYOUT=fs", "/var/mail/bob@example.com"}, // the layout of the other mailboxes
		{"mbox", "maildir:~/Maildir", ""},
		{"mbox", "/var/mail/%u", ""},
	} {
		t.Run(tc.driver+" "+tc.loc, func(t *testing.T) {
			tmpl, err := parseMailLocation(tc.loc, tc.driver)
			if tc.want == "" {
				assert.ErrorIs(t, err, errUnsupportedLocation)
				assert.Nil(t, tmpl)
				return
			}
			require.NoError(t, err)
			got, err := tmpl.Expand("bob@example.com", "/home/bob")
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// A path that parsePath refuses is refused, with the location named.
func TestParseMailLocationBadPath(t *testing.T) {
	for _, tc := range []struct{ driver, loc string }{
		{"maildir", "maildir:/srv/../mail/%u"},
		{"maildir", "maildir:/srv/%x"},
		{"mbox", "mbox:~/mail:INBOX=/var/mail/../%u"},
		{"mbox", "mbox:~/mail:INBOX=/var/mail/%{nope}"},
	} {
		_, err := parseMailLocation(tc.loc, tc.driver)
		assert.ErrorContains(t, err, "mail location", tc.loc)
	}
}

func TestSplitLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{"~/Maildir", []string{"~/Maildir"}},
		{"~/Maildir:", []string{"~/Maildir"}},
		{"a::b:K=v", []string{"a:b", "K=v"}},
		{"a:K=x::y:L", []string{"a", "K=x:y", "L"}},
		{":INBOX=/x", []string{"", "INBOX=/x"}},
	} {
		assert.Equal(t, tc.want, splitLocation(tc.in), "%q", tc.in)
	}
}

// FuzzParseMailLocation: no location panics, and one that is accepted
// expands, for an ordinary name and home, to a clean path without a ".."
// element, or to an error.
func FuzzParseMailLocation(f *testing.F) {
	for _, s := range []string{
		"maildir:~/Maildir", "maildir:/srv/a::b/%u:", "mbox:~/mail:INBOX=/var/mail/%u",
		"mbox::INBOX=~/mbox:INDEX=/x", "maildir:%{home}/x:LAYOUT=Maildir++", "mbox:%:INBOX=%%/%n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, loc string, mbox bool) {
		driver := driverMaildir
		if mbox {
			driver = driverMbox
		}
		tmpl, err := parseMailLocation(loc, driver)
		if err != nil {
			return
		}
		path, err := tmpl.Expand("bob@example.com", "/home/bob")
		if err != nil {
			return
		}
		assert.Equal(t, filepath.Clean(path), path)
		assert.False(t, hasDotDot(path), "%q", path)
	})
}
