package pop3

// canSTLS reports whether STLS is offered: TLS is configured and not yet
// active (RFC 2595 §4), and no trusted proxy terminated TLS already.
func (s *session) canSTLS() bool {
	return s.srv.TLSConfig != nil && s.info.TLS == nil && !s.info.Trusted
}

// cmdSTLS handles STLS (RFC 2595 §4). After "+OK" the handshake starts at
// once. Whatever the client sent after the STLS line in cleartext is
// thrown away unread, so that no command can be injected into the TLS
// session (CVE-2011-0411). The session then forgets any USER and LANG and
// stays in AUTHORIZATION.
func (s *session) cmdSTLS([]string) error {
	if s.utf8 {
		// RFC 6856 §2.1: a client must not start TLS after UTF8.
		return &Error{Text: "STLS not allowed after UTF8"}
	}
	if !s.canSTLS() {
		if s.info.TLS != nil {
			return &Error{Text: "TLS already active"}
		}
		return &Error{Text: "STLS not available"}
	}
	if err := s.replyOK("begin TLS negotiation"); err != nil {
		return err
	}
	if err := s.c.flush(); err != nil {
		return err
	}
	if err := s.handshake(s.c.startTLS(s.srv.TLSConfig)); err != nil {
		return endSession(EndTLSHandshake, nil, err)
	}
	// RFC 2595 §4: nothing learnt before TLS survives it, not even a
	// LANG, which a man in the middle could have sent (RFC 6856 §7).
	s.pendingUser = ""
	s.lang = nil
	return nil
}
