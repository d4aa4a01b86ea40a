// Package interop holds integration tests that run real POP3 clients
// (curl, mpop, fetchmail, getmail6 and Python's poplib) against the pop3
// server on a memory backend, on 127.0.0.1, and check byte for byte what
// each client delivers; transcript tests that replay the command
// sequences of Thunderbird and Outlook; and a TLS audit of pop3d with
// testssl.sh and openssl, on both of its ports.
//
// The package has no code of its own: everything is in its tests, which
// `go test ./...` runs. A client that is not installed skips its tests,
// unless the environment variable CI is "true", in which case the test
// fails and names the Debian package to install:
//
//	apt-get install -y curl mpop fetchmail getmail6 python3 testssl.sh openssl
//
// Every client gets its own temporary HOME and a configuration file written
// by the test, so a developer's own configuration is never read, and it
// only ever connects to 127.0.0.1.
package interop
