// Package wire is the byte-level codec of a POP3 server session, in the
// spirit of net/textproto: the bounded command-line reader, the pooled
// output buffer, status lines, the dot-stuffing writer of multi-line
// responses (RFC 1939 §3), and the readers that make a message's line ends
// CRLF and cut it down for TOP (RFC 1939 §7).
//
// Everything here is tuned to allocate nothing per command or per message
// once warm; allocs_test.go in the pop3 package and the benchmarks here
// keep it so. The pop3 package exports what stores need (CRLFSize,
// NewCRLFReader, NewTopReader) as thin wrappers.
package wire
