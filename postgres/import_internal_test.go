package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
)

// rfc1939UIDL is RFC 1939 §7's unique-id, as the CHECK constraint on
// pop3_messages.uidl writes it.
var rfc1939UIDL = regexp.MustCompile(`^[\x21-\x7e]{1,70}$`)

// checkUIDL accepts exactly RFC 1939's unique-ids, and nativeUID finds the
// uid in exactly the store's own unique-ids: n back in "<id>.<n>" gives
// the input again.
func FuzzImportUIDL(f *testing.F) {
	for _, s := range []string{"1.1", "1.01", "1.+1", "1.-1", "1.0", "1.", "01.1", "2.1", "1.9223372036854775807",
		"1.99999999999999999999", "00000001507c7a3c", "", "a b", "grüße", "\x7f"} {
		f.Add(s, int64(1))
	}
	f.Fuzz(func(t *testing.T, uidl string, userID int64) {
		if userID < 1 {
			userID = 1 + userID&0x7fffffff // identity columns start at 1
		}
		err := checkUIDL(uidl)
		if rfc1939UIDL.MatchString(uidl) != (err == nil) {
			t.Fatalf("checkUIDL(%q) = %v", uidl, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidUIDL) {
			t.Fatalf("checkUIDL(%q) = %v, not ErrInvalidUIDL", uidl, err)
		}
		n, ok := nativeUID(uidl, userID)
		if ok != (n >= 1 && uniqueID(nativePrefix(userID), n, "") == uidl) {
			t.Fatalf("nativeUID(%q, %d) = %d, %v", uidl, userID, n, ok)
		}
		if ok {
			return
		}
		// Not the store's own: no uid has it as its unique-id, and the
		// number it may hold is not one.
		if n2, err := strconv.ParseInt(uidl[min(len(uidl), len(nativePrefix(userID))):], 10, 64); err == nil && n2 >= 1 &&
			uniqueID(nativePrefix(userID), n2, "") == uidl {
			t.Fatalf("%q is uid %d's own unique-id, and nativeUID missed it", uidl, n2)
		}
	})
}

// The unique index's refusal, which only rows written by SQL directly
// can meet (Import checks first under the user's row lock), is
// ErrUIDLExists; other refusals stay what they are.
func TestUIDLViolation(t *testing.T) {
	dup := &pgconn.PgError{Code: "23505", ConstraintName: "pop3_messages_uidl_unique"}
	assert.ErrorIs(t, uidlViolation(fmt.Errorf("insert: %w", dup)), ErrUIDLExists)
	assert.ErrorIs(t, uidlViolation(dup), dup, "the database's error is kept")
	for _, other := range []error{
		&pgconn.PgError{Code: "23505", ConstraintName: "pop3_messages_pkey"},
		&pgconn.PgError{Code: "23514", ConstraintName: "pop3_messages_uidl_check"},
		errors.New("connection reset"),
	} {
		assert.NotErrorIs(t, uidlViolation(other), ErrUIDLExists)
		assert.Equal(t, other, uidlViolation(other))
	}
}
