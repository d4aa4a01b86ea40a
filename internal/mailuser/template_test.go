package mailuser_test

import (
	"fmt"

	"github.com/gopop3/pop3/internal/mailuser"
)

// A classic spool template: each user's mbox under /var/mail, and no name
// that could lead out of it.
func ExampleTemplate_Expand() {
	t, err := mailuser.ParseTemplate("/var/mail/%u")
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Root())
	for _, name := range []string{"bob", "bob.smith", "bob/../../etc", ".bob"} {
		path, err := t.Expand(name, "")
		fmt.Println(path, err)
	}
	_, err = mailuser.ParseTemplate("/var/mail/spool")
	fmt.Println(err)
	// Output:
	// /var/mail/
	// /var/mail/bob <nil>
	// /var/mail/bob.smith <nil>
	//  user name unusable in a path: holds the octet 0x2f
	//  user name unusable in a path: starts with a dot
	// template "/var/mail/spool" names no user (%u, %n or %h): every user would share one mailbox
}
