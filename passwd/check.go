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

// DecoySource is a [Source] whose users' hashes may cost more to check
// than [VerifyUnknownUser]'s bcrypt, such as the yescrypt hashes of
// /etc/shadow ([System]), and that can give one of that cost.
type DecoySource interface {
	Source
	// DecoyHash returns a stored hash whose check costs what its users'
	// cost, or "" when it has none.
	DecoyHash() string
}

// VerifyUnknownUserOf is [VerifyUnknownUser] for a user that src does not
// have, or that may not log in: when src is a [DecoySource] with a decoy
// hash, the password is checked against that one, and the result ignored,
// so that the refusal takes as long as a wrong password of src's users
// does, even where their hashes are slower than bcrypt (a Debian system
// account's yescrypt takes about 40 times as long).
func VerifyUnknownUserOf(src Source, password []byte) {
	if ds, ok := src.(DecoySource); ok {
		if h := ds.DecoyHash(); h != "" {
			_ = Verify(h, password)
			return
		}
	}
	VerifyUnknownUser(password)
}
