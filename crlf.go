package pop3

import (
	"io"

	"github.com/gopop3/pop3/internal/wire"
)

// CRLFSize returns the size of a message as the server sends it and the
// client stores it: the octets of r with every line end made CRLF (a bare
// LF is a line end) and a final CRLF added when the content does not end in
// one, before dot-stuffing (RFC 1939 §11). An empty message has size 0.
//
// That is what [MessageInfo.Size] must report. A backend whose stored
// messages already use CRLF and end in CRLF can use their length; one over
// files with LF line ends (a Maildir, .eml files) computes it once with
// CRLFSize, caches it, and serves the file through [NewCRLFReader].
// CRLFSize reads r to its end.
func CRLFSize(r io.Reader) (int64, error) { return wire.CRLFSize(r) }

// NewCRLFReader returns a reader of r's content as [Mailbox.Message] must
// yield it: every line end CRLF (a bare LF is a line end) and a final CRLF
// added when the content does not end in one. It yields exactly
// [CRLFSize] octets, with the same rules, so a backend over files with LF
// line ends serves them through it. Errors of r are returned as they come.
// Close closes r when r is an [io.Closer].
//
// Return it from Message as it is, not wrapped: the server then reads r
// itself and makes the line ends CRLF as it dot-stuffs them, in one pass
// instead of two.
func NewCRLFReader(r io.Reader) io.ReadCloser { return wire.NewCRLFReader(r) }
