package pop3

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

var timestampCounter atomic.Uint64

// newTimestamp returns a greeting timestamp for APOP (RFC 1939 §7),
// "<pid.counter.random@domain>", different on every connection: the
// counter makes it unique within the process and the random part across
// restarts and processes.
func newTimestamp(domain string) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported systems
	// Keep the domain a dot-atom (RFC 822 msg-id): drop specials and
	// empty labels.
	domain = strings.Map(func(c rune) rune {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\".[]`, c) && c != '.' {
			return -1
		}
		return c
	}, domain)
	domain = strings.Join(slices.DeleteFunc(strings.Split(domain, "."), func(l string) bool { return l == "" }), ".")
	if domain == "" || len(domain) > 100 {
		domain = "localhost"
	}
	return "<" + strconv.Itoa(os.Getpid()) + "." + strconv.FormatUint(timestampCounter.Add(1), 10) +
		"." + hex.EncodeToString(r[:]) + "@" + domain + ">"
}

// APOPDigest returns the APOP digest of RFC 1939 §7: the lower-case hex MD5
// of timestamp (angle brackets included) followed by secret.
func APOPDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

// VerifyAPOP reports whether digest is the APOP digest of timestamp and
// secret (RFC 1939 §7). It compares in constant time, and accepts the hex
// digits in either case.
func VerifyAPOP(timestamp, secret, digest string) bool {
	want := APOPDigest(timestamp, secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(digest))) == 1
}

// cmdAPOP handles APOP (RFC 1939 §7).
func (s *session) cmdAPOP(args []string) error {
	ab, ok := s.srv.Backend.(APOPBackend)
	if !ok || s.timestamp == "" {
		return &Error{Text: "APOP not supported"}
	}
	username, err := s.prepareUsername(args[0])
	if err != nil {
		return err
	}
	digest := strings.ToLower(args[1])
	return s.authenticate("APOP", func() (string, User, error) {
		user, err := ab.LoginAPOP(s.ctx, &s.info, username, s.timestamp, digest)
		return username, user, err
	})
}
