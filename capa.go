package pop3

import (
	"strconv"
	"strings"
	"time"
)

// cmdCapa handles CAPA (RFC 2449 §5), in both states.
func (s *session) cmdCapa([]string) error {
	caps := s.capabilities()
	if err := s.replyOK("capability list follows"); err != nil {
		return err
	}
	return s.writeLines(caps)
}

// capabilities lists what CAPA announces in the session's state. What
// AUTHORIZATION offers is announced in both states (RFC 2449 §5); of the
// values that may vary per user, the one before login is the bound over
// all users and the one after it the user's own (§6.5, §6.7).
func (s *session) capabilities() []string {
	exts := s.srv.exts
	caps := make([]string, 0, 16)
	for _, x := range [...]Extension{ExtTOP, ExtUIDL} {
		if exts.has(x) {
			caps = append(caps, string(x))
		}
	}
	if exts.has(ExtUSER) && s.cleartextAllowed() {
		caps = append(caps, "USER")
	}
	for _, x := range [...]Extension{ExtRespCodes, ExtPipelining, ExtAuthRespCode} {
		if exts.has(x) {
			caps = append(caps, string(x))
		}
	}
	if exts.has(ExtSASL) {
		if mechs := s.saslMechanisms(); len(mechs) > 0 {
			caps = append(caps, "SASL "+strings.Join(mechs, " "))
		}
	}
	if exts.has(ExtSTLS) && s.canSTLS() && !s.utf8 { // RFC 6856 §2.1
		caps = append(caps, "STLS")
	}
	delay, expire, perUser := s.srv.loginDelay(), s.srv.expire(), ""
	if s.state == stateTransaction {
		delay, expire = s.loginDelay, s.expire
	} else if s.srv.UserPolicies {
		perUser = " USER"
	}
	if delay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.FormatInt(delaySeconds(delay), 10)+perUser)
	}
	caps = append(caps, "EXPIRE "+expire.String()+perUser)
	if exts.has(ExtUTF8) {
		caps = append(caps, "UTF8 USER")
	}
	if exts.has(ExtLANG) {
		caps = append(caps, "LANG")
	}
	if s.state == stateTransaction && s.srv.Implementation != "" {
		caps = append(caps, "IMPLEMENTATION "+s.srv.Implementation)
	}
	return caps
}

// delaySeconds is a login delay in the whole seconds LOGIN-DELAY
// announces, rounded up: a client that waits that long is never refused.
func delaySeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
