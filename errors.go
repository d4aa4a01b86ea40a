package pop3

import (
	"errors"
	"strings"
)

// Response codes of RFC 2449 §8, RFC 3206 and RFC 5034, for Error.Code.
const (
	CodeInUse      = "IN-USE"      // RFC 2449 §8.1.1: the maildrop is locked by another session
	CodeLoginDelay = "LOGIN-DELAY" // RFC 2449 §8.1.2: the user logged in too recently
	CodeSysTemp    = "SYS/TEMP"    // RFC 3206 §4: a temporary system failure
	CodeSysPerm    = "SYS/PERM"    // RFC 3206 §4: a permanent system failure
	CodeAuth       = "AUTH"        // RFC 3206 §5: the credentials were refused
)

// Error is a negative response, written as
//
//	-ERR [Code] Text
//
// Backends return it, or wrap it with %w, to choose the response code and
// text the client sees. An error of any other type reaches the client with
// the code [CodeSysTemp] and a generic text, such as
//
//	-ERR [SYS/TEMP] login failed, try again later
//
// and its detail goes only to the log.
type Error struct {
	// Code is the extended response code (RFC 2449 §8), such as CodeAuth,
	// without brackets; empty for none.
	Code string
	// Text is the human-readable text sent after the code. It must not
	// contain CR or LF; the server replaces them.
	Text string
}

// Error returns the response as the client sees it, without "-ERR".
func (e *Error) Error() string {
	if e.Code == "" {
		return e.Text
	}
	return "[" + e.Code + "] " + e.Text
}

// Sentinel errors for backends. Compare with errors.Is.
var (
	// ErrAuthFailed means the credentials were refused (RFC 3206 [AUTH]).
	ErrAuthFailed = &Error{Code: CodeAuth, Text: "authentication failed"}
	// ErrMailboxLocked means another session holds the maildrop (RFC 2449
	// [IN-USE]).
	ErrMailboxLocked = &Error{Code: CodeInUse, Text: "maildrop already locked by another session"}
	// ErrLoginDelay means the user must wait before logging in again (RFC
	// 2449 [LOGIN-DELAY]).
	ErrLoginDelay = &Error{Code: CodeLoginDelay, Text: "login too soon after the previous one"}
)

// validCode reports whether code can stand in brackets as a response code
// (RFC 2449 §8: resp-level *("/" resp-level), resp-level = 1*rchar).
func validCode(code string) bool {
	for _, level := range strings.Split(code, "/") {
		if level == "" {
			return false
		}
		for i := 0; i < len(level); i++ {
			if c := level[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ']' {
				return false
			}
		}
	}
	return true
}

// ErrNoSuchUser is returned, wrapped, by [Deliverer.Deliver] for a user
// the backend does not know. Login methods never return it: they return
// [ErrAuthFailed], so that a client cannot tell an unknown user from a
// wrong password.
var ErrNoSuchUser = errors.New("no such user")

// ErrServerClosed is returned by Serve, ListenAndServe and ListenAndServeTLS
// after Close or Shutdown.
var ErrServerClosed = errors.New("pop3: server closed")
