package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/sqldb"
)

// A dovecot-sql.conf.ext for an SQLite file, read as Dovecot reads it: the
// user's name reaches the database as a bound parameter.
func Example() {
	dir, err := os.MkdirTemp("", "sqldb-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		log.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE mailbox (username TEXT PRIMARY KEY, password TEXT, maildir TEXT, active INTEGER);
		INSERT INTO mailbox VALUES ('alice@example.org', '{PLAIN}secret', 'example.org/alice/', 1)`)
	db.Close()
	if err != nil {
		log.Fatal(err)
	}
	conf := filepath.Join(dir, "dovecot-sql.conf.ext")
	os.WriteFile(conf, []byte(`driver = sqlite
connect = `+path+`
password_query = SELECT username AS user, password FROM mailbox WHERE username = '%u' AND active = '1'
user_query = SELECT '/var/vmail/' || maildir AS home, 5000 AS uid, 5000 AS gid \
  FROM mailbox WHERE username = '%u' AND active = '1'
`), 0o600)

	users, err := sqldb.OpenFile(conf)
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	e, err := users.Lookup(context.Background(), "alice@example.org")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Home, e.UID, passwd.Verify(e.Password, []byte("secret")) == nil)
	_, err = users.Lookup(context.Background(), "x' OR '1'='1")
	fmt.Println(err)
	// Output:
	// /var/vmail/example.org/alice/ 5000 true
	// passwd: no such user (sqldb password_query)
}
