// Package pop3 is an embeddable POP3 server.
//
// A [Server] accepts connections and runs one session per connection: the
// state machine of RFC 1939 (AUTHORIZATION, TRANSACTION, UPDATE). The
// session keeps message numbers, deletion marks and LAST itself; a
// [Backend] only authenticates users and hands out a snapshot of a
// maildrop ([Mailbox]), streams messages from it, and is told once, after
// QUIT, which messages to remove. Optional interfaces, found by type
// assertion, add APOP ([APOPBackend]), SASL mechanisms of the backend's own
// ([SASLBackend]) and a faster TOP ([TopMailbox]).
//
// Implemented:
//   - RFC 1939: USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT,
//     TOP and UIDL, and the LAST command of RFC 1460;
//   - RFC 2449: CAPA, with TOP, UIDL, USER, SASL, RESP-CODES, PIPELINING,
//     AUTH-RESP-CODE, STLS and IMPLEMENTATION, and the response codes
//     [IN-USE] and [LOGIN-DELAY];
//   - RFC 3206: [SYS/TEMP], [SYS/PERM] and [AUTH];
//   - RFC 2595 STLS and RFC 8314 implicit TLS;
//   - RFC 5034 AUTH with PLAIN, LOGIN and any mechanism of github.com/emersion/go-sasl.
//
// Cleartext logins are refused on connections that are neither TLS nor
// from a loopback address unless [Server.AllowInsecureAuth] is set.
//
// A minimal server on the reference in-memory backend:
//
//	backend := memory.New()
//	backend.AddUser("alice", "secret")
//	backend.AppendMessage("alice", []byte("Subject: hi\n\nHello!\n"))
//
//	srv := pop3.NewServer(backend)
//	srv.Addr = ":110"
//	srv.TLSConfig = tlsConfig // enables STLS
//	go srv.ListenAndServe()
//
//	// ... on SIGTERM:
//	srv.Shutdown(ctx)
//
// A backend for a test needs only the few methods of Backend, User and
// Mailbox; see the examples.
package pop3
