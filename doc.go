// Package pop3 is an embeddable POP3 server.
//
// A [Server] accepts connections and runs one session per connection: the
// state machine of RFC 1939 (AUTHORIZATION, TRANSACTION, UPDATE). The
// session keeps message numbers, deletion marks and LAST itself; a
// [Backend] only authenticates users and hands out a snapshot of a
// maildrop ([Mailbox]), streams messages from it, and is told once, after
// QUIT, which messages to remove. Optional interfaces, found by type
// assertion, add APOP ([APOPBackend]), SASL mechanisms of the backend's own
// ([SASLBackend]) and a faster TOP ([TopMailbox]). [BackendFunc] makes a
// function a Backend.
//
// Implemented:
//   - RFC 1939: USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT,
//     TOP and UIDL, and the LAST command of RFC 1460;
//   - RFC 2449: CAPA, with TOP, UIDL, USER, SASL, RESP-CODES, PIPELINING,
//     AUTH-RESP-CODE, STLS and IMPLEMENTATION, and the response codes
//     IN-USE ([CodeInUse]) and LOGIN-DELAY ([CodeLoginDelay]);
//   - RFC 2449 LOGIN-DELAY and EXPIRE, announced and enforced: a login
//     too soon after the user's previous one is refused
//     ([Server.LoginDelay]), and messages are removed at UPDATE when
//     retrieved ([ExpireAfter] 0) or some days after their first
//     retrieval ([Server.Expire]), with values per user ([PolicyUser]) and
//     the times kept by the store ([LoginRecorder], [RetrievalMailbox]);
//   - RFC 3206: the response codes SYS/TEMP ([CodeSysTemp]), SYS/PERM
//     ([CodeSysPerm]) and AUTH ([CodeAuth]);
//   - RFC 2595 STLS and RFC 8314 implicit TLS;
//   - RFC 5034 AUTH with PLAIN, LOGIN and any mechanism of github.com/emersion/go-sasl;
//   - RFC 6856: UTF8, with UTF-8 user names and passwords normalised by
//     PRECIS (RFC 8265), internationalized messages (RFC 6532) sent as
//     they are in UTF-8 mode and downgraded as RFC 6858 describes
//     otherwise; and LANG, in English and Bulgarian ([Languages]).
//
// [Server.Disable] removes any of the extensions, from CAPA and from
// behaviour, for a test server that must look like an older one.
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
// Mailbox; see the examples. Package [github.com/gopop3/pop3/memory] is the
// reference backend, and [github.com/gopop3/pop3/pop3test] checks a backend
// against the promises of these interfaces (pop3test.TestBackend) and
// serves one to a test client, as net/http/httptest does for handlers.
//
// # Security
//
// Cleartext logins are refused on connections that are not secure: neither
// TLS, nor from a loopback address or a unix socket, nor vouched for by
// [Server.TrustedConn] (a proxy that terminated TLS), nor from
// [Server.TrustedNetworks], unless [Server.AllowInsecureAuth] is set. Every
// failed login, whatever error the backend returned, waits
// [Server.AuthFailureDelay] and counts towards [Server.MaxAuthFailures] for
// the connection and towards a penalty for the client's address that
// outlives it ([Server.MaxAuthPenalty]), which TrustedNetworks are spared.
// Passwords,
// APOP digests, SASL payloads and message content never reach the log or
// the protocol trace.
//
// # TLS defaults come from your go.mod
//
// Which TLS versions, cipher suites, signature algorithms and key exchanges
// crypto/tls offers when a [tls.Config] leaves them unset is decided by the
// go line of the main module's go.mod (through its GODEBUG defaults), not
// by this module's. A program whose go.mod says "go 1.22" still offers 3DES
// (SWEET32) and accepts SHA-1 signatures in TLS 1.2 on a current toolchain.
// Declare go 1.25 or later in your main module (pop3d does) to get 3DES
// and SHA-1 off and the hybrid post-quantum key exchange X25519MLKEM768 on,
// or set those fields of Server.TLSConfig yourself.
package pop3
