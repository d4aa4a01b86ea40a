package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file is the POP3 client of "pop3admin import": just what copying a
// maildrop needs (RFC 1939 with CAPA of RFC 2449, STLS of RFC 2595, AUTH
// PLAIN of RFC 5034), streaming each message from the socket to the store.

// Default ports: POP3 (RFC 1939 §3) and POP3S (RFC 8314 §7.3).
const (
	pop3Port  = "110"
	pop3sPort = "995"
)

// maxReplyLine bounds a status line or a line of a CAPA, UIDL or LIST
// listing, CRLF included. RFC 2449 §4 allows 512 octets for a status line;
// more is taken, since a server's greeting or -ERR text may be longer, but
// not without bound.
const maxReplyLine = 8 << 10

// sourceURL is the server of -from: pop3s://HOST[:PORT] with implicit TLS
// (RFC 8314), or pop3://HOST[:PORT] with STLS (RFC 2595).
type sourceURL struct {
	implicitTLS bool
	host, port  string
}

func (u sourceURL) addr() string { return net.JoinHostPort(u.host, u.port) }

func (u sourceURL) String() string {
	scheme := "pop3"
	if u.implicitTLS {
		scheme = "pop3s"
	}
	return scheme + "://" + u.addr()
}

// parseSourceURL parses -from. Credentials, a path or a query are refused:
// the users and passwords come from -users, and anything else would be
// ignored silently.
func parseSourceURL(s string) (sourceURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return sourceURL{}, fmt.Errorf("-from %q is not a URL", s)
	}
	var src sourceURL
	switch strings.ToLower(u.Scheme) {
	case "pop3s":
		src.implicitTLS, src.port = true, pop3sPort
	case "pop3":
		src.port = pop3Port
	default:
		return sourceURL{}, fmt.Errorf("-from %q: give pop3s://HOST[:PORT] (implicit TLS) or pop3://HOST[:PORT] (STLS)", s)
	}
	switch {
	case u.User != nil:
		return sourceURL{}, fmt.Errorf("-from: put no user or password in the URL; the users come from -users or -master")
	case u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return sourceURL{}, fmt.Errorf("-from %q: only pop3s://HOST[:PORT] or pop3://HOST[:PORT], without a path or query", s)
	case u.Hostname() == "":
		return sourceURL{}, fmt.Errorf("-from %q: no host", s)
	}
	src.host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return sourceURL{}, fmt.Errorf("-from %q: the port must be 1 to 65535", s)
		}
		src.port = strconv.Itoa(n)
	}
	return src, nil
}

// sourceConfig is how to reach the source server.
type sourceConfig struct {
	url sourceURL
	// tls verifies the server; its ServerName is set per connection.
	tls *tls.Config
	// cleartext allows a login without TLS to a server that is not on
	// loopback (-insecure).
	cleartext bool
	// timeout bounds connecting and then each read and write: a server
	// that stays silent that long is given up on.
	timeout time.Duration
}

// replyError is a server's -ERR reply to a command.
type replyError struct {
	cmd  string // the command, without its arguments for USER, PASS and AUTH
	text string // what followed -ERR
}

func (e *replyError) Error() string {
	if e.text == "" {
		return e.cmd + ": -ERR"
	}
	return e.cmd + ": -ERR " + e.text
}

// errProtocol is a reply that breaks RFC 1939's framing.
var errProtocol = errors.New("the server broke the POP3 protocol")

// sourceConn is one POP3 session with the source server.
type sourceConn struct {
	conn    net.Conn // the TLS connection once TLS is on
	raw     net.Conn // the TCP connection under it
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	tls     bool
	// capa is the CAPA listing (RFC 2449 §5): tag (upper case) to its
	// arguments; nil when the server has no CAPA.
	capa map[string][]string
	// body is the multi-line reply being read, which must be read to its
	// end before the next command.
	body *dotReader
	stop func() bool // stops closing the connection when the context ends
}

// deadlineConn sets the deadline before each read and write, so that a
// timeout bounds a silence, not a whole transfer.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// dialSource connects to the source, reads its greeting and capabilities,
// and makes sure the session is encrypted before a password is sent: with
// implicit TLS, or with STLS; without either, only to a server on loopback
// or with cfg.cleartext. The connection is closed when ctx ends.
func dialSource(ctx context.Context, cfg *sourceConfig) (*sourceConn, error) {
	d := net.Dialer{Timeout: cfg.timeout}
	raw, err := d.DialContext(ctx, "tcp", cfg.url.addr())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.url, err)
	}
	return startSource(ctx, raw, cfg)
}

// startSource is dialSource on a connection made.
func startSource(ctx context.Context, raw net.Conn, cfg *sourceConfig) (*sourceConn, error) {
	c := &sourceConn{raw: raw, timeout: cfg.timeout}
	c.stop = context.AfterFunc(ctx, func() { raw.Close() })
	c.setConn(&deadlineConn{Conn: raw, timeout: cfg.timeout})
	if err := c.start(ctx, cfg); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return c, nil
}

func (c *sourceConn) setConn(conn net.Conn) {
	c.conn = conn
	c.r = bufio.NewReader(conn)
	c.w = bufio.NewWriter(conn)
}

func (c *sourceConn) start(ctx context.Context, cfg *sourceConfig) error {
	if cfg.url.implicitTLS {
		if err := c.handshake(ctx, cfg); err != nil {
			return err
		}
	}
	if _, err := c.status("greeting"); err != nil {
		return err
	}
	if err := c.readCapa(); err != nil {
		return err
	}
	if c.tls {
		return nil
	}
	// STLS is tried when CAPA lists it, or when there is no CAPA to tell
	// (RFC 2595 predates it).
	if _, ok := c.capa["STLS"]; ok || c.capa == nil {
		err := c.cmd("STLS")
		var re *replyError
		switch {
		case err == nil:
			if c.r.Buffered() > 0 {
				// Lines sent before the handshake would be taken as
				// sent under TLS: an injection (RFC 2595 §3.1).
				return fmt.Errorf("STLS: the server sent data before the TLS handshake: %w", errProtocol)
			}
			if err := c.handshake(ctx, cfg); err != nil {
				return err
			}
			// RFC 2595 §4: the capabilities learnt before TLS are
			// forgotten.
			return c.readCapa()
		case !errors.As(err, &re):
			return err
		}
	}
	if cfg.cleartext || isLoopback(c.raw.RemoteAddr()) {
		return nil
	}
	return fmt.Errorf("%s offers no STLS: refusing to send passwords in cleartext (give -insecure to allow it, or use pop3s://)", cfg.url)
}

// handshake starts TLS on the connection.
func (c *sourceConn) handshake(ctx context.Context, cfg *sourceConfig) error {
	tc := cfg.tls.Clone()
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.url.host
	}
	t := tls.Client(c.conn, tc)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := t.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS with %s: %w", cfg.url.addr(), err)
	}
	c.setConn(t)
	c.tls = true
	return nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Close closes the connection without QUIT: the server then deletes
// nothing (RFC 1939 §6).
func (c *sourceConn) Close() error {
	c.stop()
	return c.raw.Close()
}

// send writes a command line.
func (c *sourceConn) send(line string) error {
	if c.body != nil {
		return errors.New("pop3admin: a command sent while a reply is being read") // a bug of ours
	}
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	return c.w.Flush()
}

// cmdNamed sends a command and reads its status line; name is what errors
// call it, never with a password.
func (c *sourceConn) cmdNamed(name, line string) (string, error) {
	if err := c.send(line); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return c.status(name)
}

// cmd is cmdNamed for a command without secrets, named as sent.
func (c *sourceConn) cmd(line string) error {
	_, err := c.cmdNamed(line, line)
	return err
}

// status reads a status line: the text after +OK, or a *replyError.
func (c *sourceConn) status(cmd string) (string, error) {
	line, err := c.readLine()
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	ok, text, err := parseStatus(line)
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	if !ok {
		return "", &replyError{cmd: cmd, text: text}
	}
	return text, nil
}

// parseStatus parses a status line without its line end (RFC 1939 §3):
// "+OK" or "-ERR", then nothing or a space and a text.
func parseStatus(line []byte) (ok bool, text string, err error) {
	for _, ind := range []string{"+OK", "-ERR"} {
		if len(line) >= len(ind) && strings.EqualFold(string(line[:len(ind)]), ind) {
			rest := line[len(ind):]
			if len(rest) > 0 && rest[0] != ' ' {
				break
			}
			return ind == "+OK", printable(bytes.TrimSpace(rest)), nil
		}
	}
	return false, "", fmt.Errorf("%w: %q is not a status line", errProtocol, abbreviate(line))
}

// printable makes a server's text safe to print: control characters
// become '?', and it is cut to a reasonable length.
func printable(b []byte) string {
	b = []byte(abbreviate(b))
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

func abbreviate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// readLine reads a line of at most maxReplyLine octets, without its line
// end (CRLF, or a bare LF as RFC 1939 servers sometimes send).
func (c *sourceConn) readLine() ([]byte, error) {
	line, err := readLine(c.r)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("the server closed the connection: %w", io.ErrUnexpectedEOF)
	}
	return line, err
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxReplyLine {
			return nil, fmt.Errorf("%w: a reply line longer than %d octets", errProtocol, maxReplyLine)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			return bytes.TrimSuffix(line, []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		}
		return nil, err
	}
}

// readCapa reads CAPA's listing (RFC 2449 §5); a server without CAPA
// leaves c.capa nil.
func (c *sourceConn) readCapa() error {
	c.capa = nil
	lines, err := c.listing("CAPA")
	var re *replyError
	switch {
	case errors.As(err, &re):
		return nil
	case err != nil:
		return err
	}
	c.capa = parseCapa(lines)
	return nil
}

func parseCapa(lines [][]byte) map[string][]string {
	capa := make(map[string][]string, len(lines))
	for _, l := range lines {
		f := strings.Fields(string(l))
		if len(f) > 0 {
			capa[strings.ToUpper(f[0])] = f[1:]
		}
	}
	return capa
}

// listing sends a command whose reply is a multi-line listing and reads it.
func (c *sourceConn) listing(cmd string) ([][]byte, error) {
	if err := c.cmd(cmd); err != nil {
		return nil, err
	}
	var lines [][]byte
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return lines, nil
			}
			line = line[1:] // dot-stuffed (RFC 1939 §3)
		}
		lines = append(lines, line)
	}
}

// hasSASL tells whether CAPA lists the SASL mechanism.
func (c *sourceConn) hasSASL(mech string) bool {
	for _, m := range c.capa["SASL"] {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// login logs in with USER and PASS (RFC 1939 §7) or, when CAPA says that
// USER is not offered but SASL PLAIN is, with AUTH PLAIN (RFC 5034). The
// password never appears in an error.
func (c *sourceConn) login(name, password string) error {
	if err := checkCredential(name, password); err != nil {
		return err
	}
	_, user := c.capa["USER"]
	if c.capa != nil && !user && c.hasSASL("PLAIN") {
		return c.authPlain(name, password)
	}
	if _, err := c.cmdNamed("USER", "USER "+name); err != nil {
		return err
	}
	_, err := c.cmdNamed("PASS", "PASS "+password)
	return err
}

// checkCredential refuses a user name or password that would end the
// command line early (and so send a command of its own) or be cut by the
// server.
func checkCredential(name, password string) error {
	switch {
	case name == "" || strings.ContainsAny(name, " \t") || hasControl(name):
		return fmt.Errorf("the user name %q cannot be sent in a POP3 USER command", name)
	case password == "" || hasControl(password):
		return errors.New("the password is empty or holds a control character")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// authPlain is AUTH PLAIN (RFC 4616) with the initial response of RFC 5034
// §4 when the command line stays within its 255 octets, and after an
// empty challenge otherwise.
func (c *sourceConn) authPlain(name, password string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + name + "\x00" + password))
	if len("AUTH PLAIN "+resp) <= 255 {
		_, err := c.cmdNamed("AUTH PLAIN", "AUTH PLAIN "+resp)
		return err
	}
	if err := c.send("AUTH PLAIN"); err != nil {
		return fmt.Errorf("AUTH PLAIN: %w", err)
	}
	line, err := c.readLine()
	if err != nil {
		return fmt.Errorf("AUTH PLAIN: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("+")) {
		if ok, text, err := parseStatus(line); err == nil && !ok {
			return &replyError{cmd: "AUTH PLAIN", text: text}
		}
		return fmt.Errorf("AUTH PLAIN: %w: %q is not a challenge", errProtocol, abbreviate(line))
	}
	_, err = c.cmdNamed("AUTH PLAIN", resp)
	return err
}

// uidlEntry is one line of UIDL's listing (RFC 1939 §7).
type uidlEntry struct {
	num  int
	uidl string // as the server sent it; check it with validUIDL
}

// uidl lists the messages' unique-ids.
func (c *sourceConn) uidl() ([]uidlEntry, error) {
	lines, err := c.listing("UIDL")
	if err != nil {
		return nil, err
	}
	return parseUIDLListing(lines)
}

// parseUIDLListing parses UIDL's lines: "msg SP unique-id". A unique-id
// that breaks RFC 1939 §7 is returned as it is, for the caller to report;
// a line without a message number, or a number listed twice, makes the
// listing unusable.
func parseUIDLListing(lines [][]byte) ([]uidlEntry, error) {
	entries := make([]uidlEntry, 0, len(lines))
	seen := make(map[int]bool, len(lines))
	for _, l := range lines {
		num, rest, err := messageNumber(l)
		if err != nil {
			return nil, fmt.Errorf("UIDL: %w", err)
		}
		if seen[num] {
			return nil, fmt.Errorf("UIDL: %w: message %d is listed twice", errProtocol, num)
		}
		seen[num] = true
		entries = append(entries, uidlEntry{num: num, uidl: strings.TrimRight(string(rest), " \t")})
	}
	return entries, nil
}

// messageNumber splits a listing line into its message number and the
// rest, after the spaces that follow the number.
func messageNumber(l []byte) (int, []byte, error) {
	numText, rest, _ := bytes.Cut(l, []byte(" "))
	num, err := strconv.Atoi(string(numText))
	if err != nil || num < 1 || numText[0] == '+' {
		return 0, nil, fmt.Errorf("%w: %q does not start with a message number", errProtocol, abbreviate(l))
	}
	return num, bytes.TrimLeft(rest, " "), nil
}

// listEntry is one line of LIST's listing (RFC 1939 §5).
type listEntry struct {
	num  int
	size int64
}

// list lists the messages' sizes.
func (c *sourceConn) list() ([]listEntry, error) {
	lines, err := c.listing("LIST")
	if err != nil {
		return nil, err
	}
	entries := make([]listEntry, 0, len(lines))
	for _, l := range lines {
		num, rest, err := messageNumber(l)
		if err != nil {
			return nil, fmt.Errorf("LIST: %w", err)
		}
		sizeText, _, _ := bytes.Cut(rest, []byte(" "))
		size, err := strconv.ParseInt(string(sizeText), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("LIST: %w: %q has no size", errProtocol, abbreviate(l))
		}
		entries = append(entries, listEntry{num: num, size: size})
	}
	return entries, nil
}

// retr sends RETR and returns the message as it comes off the wire,
// un-stuffed (RFC 1939 §3), with the line ends the server sent. It must be
// read to io.EOF (or the connection closed) before the next command.
func (c *sourceConn) retr(num int) (*dotReader, error) {
	if err := c.cmd("RETR " + strconv.Itoa(num)); err != nil {
		return nil, err
	}
	c.body = newDotReader(c.r, func() { c.body = nil })
	return c.body, nil
}

// dele marks a message deleted; the server deletes it at QUIT.
func (c *sourceConn) dele(num int) error {
	return c.cmd("DELE " + strconv.Itoa(num))
}

// quit ends the session: the server enters UPDATE and deletes the messages
// marked with DELE (RFC 1939 §6), and says whether it did. The connection
// is closed.
func (c *sourceConn) quit() error {
	defer c.Close()
	return c.cmd("QUIT")
}

// dotReader reads a multi-line reply's content (RFC 1939 §3): it removes
// the dot that stuffs a line beginning with one and ends at the line ".",
// keeping every other octet, line ends included. It holds at most one
// bufio buffer of the message in memory, however long its lines.
type dotReader struct {
	r       *bufio.Reader
	pending []byte // what the last ReadSlice returned and Read has not
	bol     bool   // pending ended a line: the next octet begins one
	err     error  // io.EOF after the terminating line
	n       int64  // octets of content returned
	done    func() // called once at the end
}

func newDotReader(r *bufio.Reader, done func()) *dotReader {
	return &dotReader{r: r, bol: true, done: done}
}

func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) == 0 {
			if d.err != nil || (n > 0 && d.r.Buffered() == 0) {
				break // return what there is rather than wait
			}
			d.fill()
			continue
		}
		m := copy(p[n:], d.pending)
		d.pending = d.pending[m:]
		n += m
	}
	d.n += int64(n)
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	return 0, d.err
}

// fill reads the next line, or the next buffer of a long one.
func (d *dotReader) fill() {
	line, err := d.r.ReadSlice('\n')
	if d.bol && len(line) > 0 && line[0] == '.' {
		if err == nil && (string(line) == ".\r\n" || string(line) == ".\n") {
			d.finish(io.EOF)
			return
		}
		line = line[1:]
	}
	d.pending = line
	switch {
	case err == nil:
		d.bol = true
	case errors.Is(err, bufio.ErrBufferFull):
		d.bol = false
	default:
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.pending = nil // an incomplete message is no message
		d.finish(fmt.Errorf("the message ended before its end line: %w", err))
	}
}

func (d *dotReader) finish(err error) {
	d.err = err
	if d.done != nil {
		d.done()
		d.done = nil
	}
}

// drain reads the rest of the message, so that the session can go on.
func (d *dotReader) drain() error {
	_, err := io.Copy(io.Discard, d)
	return err
}

// atEnd reports whether the terminating line has been read.
func (d *dotReader) atEnd() bool { return errors.Is(d.err, io.EOF) }
