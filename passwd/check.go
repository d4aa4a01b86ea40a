package passwd

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

// CheckHash returns nil when stored is a hash that [Verify] can check: a
// known scheme, well formed, and not one that any password matches. A user
// database calls it before it stores a hash, so that a typo does not lock a
// user out, or let everyone in. It costs one Verify.
func CheckHash(stored string) error {
	err := Verify(stored, []byte(rand.Text()))
	switch {
	case errors.Is(err, ErrMismatch):
		return nil
	case err == nil: // a random password matched
		return fmt.Errorf("%w: it accepts any password", ErrMalformedHash)
	}
	return err
}

// decoy is the hash VerifyUnknownUser checks against, made on first use.
var decoy = sync.OnceValue(func() string {
	h, _ := Hash("BLF-CRYPT", []byte(rand.Text())) // fails only for an empty or overlong password
	return h
})

// VerifyUnknownUser checks password against a BLF-CRYPT hash of random
// octets, made once per process, and ignores the result: a login method
// calls it for a user that does not exist, so that its refusal takes as
// long as a wrong password's and timing does not tell which names exist.
// (A user whose hash is in a slower scheme, or at a higher cost, still
// takes longer.)
func VerifyUnknownUser(password []byte) {
	_ = Verify(decoy(), password)
}
