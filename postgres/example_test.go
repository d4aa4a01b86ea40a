package postgres_test

import (
	"context"
	"log"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
	"github.com/gopop3/pop3/postgres"
)

// A POP3 server on PostgreSQL: connect, migrate, add a user, serve. Run as
// many such servers as you like on one database, behind a TCP load
// balancer; each maildrop is locked across all of them.
func Example() {
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, "postgres://pop3@db.example.com/mail") // password in PGPASSWORD or ~/.pgpass
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	backend, err := postgres.New(ctx, pool)
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()

	hash, err := passwd.Hash("BLF-CRYPT", []byte("secret"))
	if err != nil {
		log.Fatal(err)
	}
	if err := backend.AddUser(ctx, "alice", hash); err != nil {
		log.Print(err) // postgres.ErrUserExists on the second run
	}

	srv := pop3.NewServer(backend)
	srv.Addr = ":110"
	log.Fatal(srv.ListenAndServe())
}
