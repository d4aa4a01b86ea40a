package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gopop3/pop3"
)

// A unique-id the destination shows is not proof that the source's
// message is there: a store computes unique-ids of its own for the
// messages delivered to it (Maildir's %u under -uidl-format cyrus-old
// shows "1" for its first message; postgres shows "<user id>.<uid>", which
// a pop3d to pop3d migration can meet), and those can equal the source's
// for another message. Counting such a message as copied, and deleting it
// from the source with -delete, would lose it. So a message counts as in
// the destination when the destination shows its unique-id on a message
// of the same size: the size LIST gives (RFC 1939 §5, octets with CRLF line
// ends, as the stores count them), or, when that differs, the size of the
// message as RETR serves it, which is what the store would hold of a copy
// (a server may count a message without a final line end without the CRLF
// it adds when sending it, or count bare LFs). Another size is a conflict:
// the message is left on the source and reported.

// destIndex is the destination's listing of a user: the size of the
// message under each unique-id, in octets with CRLF line ends. The
// stores show each unique-id once.
type destIndex map[string]int64

// listDest reads the destination's listing of the user; an unknown user
// wraps pop3.ErrNoSuchUser.
func (im *importer) listDest(ctx context.Context, user string) (destIndex, error) {
	infos, err := im.dest.target.Listing(ctx, user)
	if errors.Is(err, pop3.ErrNoSuchUser) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("the destination: %w", err)
	}
	index := make(destIndex, len(infos))
	for _, m := range infos {
		index[m.UID] = m.Size
	}
	return index, nil
}

// sourceSizes sends LIST once and returns the size of each message of
// UIDL's listing. A message that UIDL lists and LIST does not is a server
// that disagrees with itself within one session (RFC 1939 §5 and §7 list
// the same messages): nothing of it is trusted.
func sourceSizes(c *sourceConn, entries []uidlEntry) (map[int]int64, error) {
	list, err := c.list()
	if err != nil {
		return nil, fmt.Errorf("listing the source's sizes: %w", err)
	}
	sizes := make(map[int]int64, len(list))
	for _, l := range list {
		sizes[l.num] = l.size
	}
	for _, e := range entries {
		if _, ok := sizes[e.num]; !ok {
			return nil, fmt.Errorf("listing the source's sizes: %w: UIDL lists message %d and LIST does not", errProtocol, e.num)
		}
	}
	return sizes, nil
}

// outcome is what became of one message of the source.
type outcome int

const (
	outcomeAlready  outcome = iota // in the destination before: journaled now or before
	outcomeCopied                  // copied now
	outcomeConflict                // another message of the destination shows its unique-id
)

// entryResult is what copyEntry did with one message.
type entryResult struct {
	outcome  outcome
	destSize int64 // with outcomeConflict: the destination's message's size
	octets   int64 // read from the source
	err      error // the copy of this user cannot go on
}

// copyEntry brings message e, of listSize octets by LIST, into the
// destination unless it is there, and tells which it was. dest is the
// destination's listing, read again when the store finds the unique-id
// taken meanwhile.
func (im *importer) copyEntry(ctx context.Context, c *sourceConn, j *journal, user string, e uidlEntry, listSize int64, dest *destIndex) entryResult {
	if j.has(e.uidl) {
		// Copied by an earlier run; perhaps deleted since by its user
		// through pop3d, and then it must not come back.
		return entryResult{outcome: outcomeAlready}
	}
	if destSize, ok := (*dest)[e.uidl]; ok {
		return im.sameMessage(c, e, listSize, destSize)
	}
	n, err := im.copyMessage(ctx, c, user, e)
	switch {
	case err == nil:
		return entryResult{outcome: outcomeCopied, octets: n}
	case !errors.Is(err, im.dest.exists):
		return entryResult{octets: n, err: err}
	}
	// The store shows the unique-id now (another run, a delivery, an
	// import interrupted and finished by the store): which message?
	index, lerr := im.listDest(ctx, user)
	if lerr != nil {
		return entryResult{octets: n, err: fmt.Errorf("importing message %d (unique-id %q): the store has it already; listing it: %w", e.num, e.uidl, lerr)}
	}
	*dest = index
	destSize, ok := index[e.uidl]
	if !ok {
		return entryResult{octets: n, err: fmt.Errorf("importing message %d (unique-id %q): the store refused it as taken (%w) but does not list it", e.num, e.uidl, err)}
	}
	m := im.sameMessage(c, e, listSize, destSize)
	m.octets += n
	return m
}

// sameMessage tells whether the destination's message under e's
// unique-id, of destSize octets, is e: by LIST's size, and when that
// differs by the size of e as RETR serves it.
func (im *importer) sameMessage(c *sourceConn, e uidlEntry, listSize, destSize int64) entryResult {
	if destSize == listSize {
		return entryResult{outcome: outcomeAlready}
	}
	served, n, err := servedSize(c, e)
	switch {
	case err != nil:
		return entryResult{octets: n, err: err}
	case served == destSize:
		return entryResult{outcome: outcomeAlready, octets: n}
	}
	return entryResult{outcome: outcomeConflict, destSize: destSize, octets: n}
}

// servedSize retrieves message e and returns its size with CRLF line ends
// (pop3.CRLFSize, as the stores count what they import), and the octets
// read.
func servedSize(c *sourceConn, e uidlEntry) (size, read int64, err error) {
	body, err := c.retr(e.num)
	if err != nil {
		return 0, 0, fmt.Errorf("retrieving message %d from the source: %w", e.num, err)
	}
	size, err = pop3.CRLFSize(body)
	if err != nil {
		return 0, body.n, fmt.Errorf("retrieving message %d from the source: %w", e.num, err)
	}
	return size, body.n, nil
}
