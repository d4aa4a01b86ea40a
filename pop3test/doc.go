// Package pop3test is to a POP3 backend what net/http/httptest and
// testing/fstest are to HTTP handlers and file systems: a contract kit that
// checks a backend with one call, a real server on loopback, a test client,
// and a backend wrapper that fails on purpose.
//
// # The contract kit
//
// A backend author runs [TestBackend] from a test of the backend's package:
//
//	func TestBackendContract(t *testing.T) {
//		pop3test.TestBackend(t, func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
//			return newStoreWith(t, accounts) // a fresh backend holding exactly these
//		})
//	}
//
// It checks the promises that the pop3 interfaces make in prose (stable,
// unique unique-ids; sizes that are the octets sent; an exclusive maildrop
// lock released however a session ends; nothing deleted without QUIT; the
// content of awkward messages kept), on the interfaces and through a real
// session, and names each broken promise in a failed subtest such as
// "UIDL/stable_across_sessions". A method that panics fails the subtest
// that called it, with a report such as "Message panicked: boom" and the
// stack, and the other subtests run on; a slow Mailbox.Close, which
// delays every QUIT, is noted in the subtest's log.
//
// # A server and a client for tests
//
// [NewServer] serves a backend with a real [pop3.Server] on 127.0.0.1 until
// the test ends, with settings made for tests, optionally with TLS
// ([WithTLS]), a fixed APOP timestamp ([WithAPOPTimestamp]) for golden
// transcripts, and a listener of the test's ([WithListener]). [Start]
// does the same for a server the caller has configured, such as the one
// an application builds, and leaves its settings as they are. A server
// has TLS with a certificate generated for the test (WithTLS) or with the
// caller's own TLSConfig, never both. [Client] speaks to it: commands and
// their replies, multi-line replies un-stuffed, pipelined batches, STLS,
// and transcripts in RFC 1939's "C:"/"S:" notation:
//
//	srv := pop3test.NewServer(t, backend)
//	c := srv.Dial()
//	c.Login("alice", "secret")
//	if msg := c.OK("RETR 1").Body; !bytes.HasPrefix(msg, []byte("Subject: hi\r\n")) {
//		t.Errorf("RETR 1 sent %q", msg)
//	}
//
// # Failures on purpose
//
// [FaultBackend] wraps any backend and injects errors, panics, delays,
// hangs, [LOGIN-DELAY] and [IN-USE] at chosen calls, for testing how a server, a
// client or an application copes with a store that fails.
//
// Besides the standard library and this module's own packages, the package
// imports only github.com/emersion/go-sasl, whose types the
// [pop3.SASLBackend] methods use; pop3 imports it too, so a test that
// imports pop3test downloads nothing more than pop3 does.
package pop3test
