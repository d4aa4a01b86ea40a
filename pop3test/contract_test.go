package pop3test_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/pop3test"
)

// A defect is a promise that kitBackend can break on purpose.
type defect string

const (
	uidsChangePerSession  defect = "UIDs that change per session"
	deleteIgnoresIndexes  defect = "Delete that ignores its indexes"
	sizeOffByOne          defect = "Size off by one"
	openDoesNotLock       defect = "an Open that does not lock"
	closeDoesNotUnlock    defect = "a Close that does not unlock"
	bareLFContent         defect = "Message yields bare LF line ends"
	uidsReused            defect = "UIDs reused after a delete"
	unknownUserTells      defect = "an unknown user is told apart"
	listingSeesNewMail    defect = "a listing that shows new mail"
	ignoresCancelledCtx   defect = "Message ignores a cancelled context"
	retrRemoves           defect = "Message removes the message"
	storesDotStuffed      defect = "messages stored dot-stuffed"
	apopAcceptsAnyDigest  defect = "APOP accepts any digest"
	deliverAcceptsUnknown defect = "Deliver accepts an unknown user"
	downgradedIsSize      defect = "DowngradedSize that ignores the header"

	// Defects that TestKitRecoversPanics and TestKitNotesSlowClose use.
	newBackendPanics defect = "newBackend panics"
	bobLoginPanics   defect = "Login panics for bob"
	messagePanics    defect = "Message panics"
	closePanics      defect = "Close panics"
	closeIsSlow      defect = "Close is slow"
)

// slowCloseTime is how long Close takes with closeIsSlow, and twice the
// threshold the kit is given then (slowCloseEnv).
const slowCloseTime = 40 * time.Millisecond

// The kit must fail each defect in the subtest named for the promise.
var caughtBy = map[defect]string{
	uidsChangePerSession:  "UIDL/stable_across_sessions",
	deleteIgnoresIndexes:  "DELE/Delete_removes_exactly_the_given_messages",
	sizeOffByOne:          "Size/equals_the_octets_Message_yields",
	openDoesNotLock:       "Open/second_Open_fails_with_ErrMailboxLocked",
	closeDoesNotUnlock:    "Close/releases_the_lock",
	bareLFContent:         "Size/octets_are_CRLF_only_and_end_in_CRLF",
	uidsReused:            "UIDL/never_reused_for_a_new_message",
	unknownUserTells:      "Login/unknown_user_fails_like_a_wrong_password",
	listingSeesNewMail:    "Listing/stable_while_the_mailbox_is_open",
	ignoresCancelledCtx:   "Message/cancelled_context_is_respected",
	retrRemoves:           "DELE/nothing_removed_without_QUIT",
	storesDotStuffed:      "Content/lines_that_start_with_a_dot",
	apopAcceptsAnyDigest:  "APOP/wrong_digest_fails_with_ErrAuthFailed",
	deliverAcceptsUnknown: "Deliver/unknown_user_wraps_ErrNoSuchUser",
	downgradedIsSize:      "DowngradedSize/0_or_the_downgraded_size",
}

// defectEnv names the defect TestBrokenBackend builds in; slowCloseEnv,
// when set, is the time after which the kit notes a slow Close there.
const (
	defectEnv    = "POP3TEST_DEFECT"
	slowCloseEnv = "POP3TEST_SLOW_CLOSE"
)

// TestBackendWithoutDefects shows that kitBackend, the base of the broken
// backends, passes the kit when it breaks nothing: a failure of a broken one
// is its defect's.
func TestBackendWithoutDefects(t *testing.T) {
	pop3test.TestBackend(t, newKitBackend(""))
}

// TestKitCatchesBrokenBackends runs the kit on backends that each break one
// promise, in a child process (a failing kit fails its test), and checks
// that the subtest named for that promise fails.
func TestKitCatchesBrokenBackends(t *testing.T) {
	for d, subtest := range caughtBy {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			pattern := "^TestBrokenBackend$"
			for _, name := range strings.Split(subtest, "/") {
				pattern += "/^" + regexp.QuoteMeta(name) + "$"
			}
			kit := runBrokenBackend(t, d, pattern)
			require.Equal(t, 1, kit.exit, "the kit passed a backend with %s:\n%s", d, kit.out)
			assert.Equal(t, "FAIL", kit.result[subtest], "a backend with %s must fail %s:\n%s", d, subtest, kit.out)
		})
	}
}

// TestBrokenBackend is the child of TestKitCatchesBrokenBackends and of
// the other tests that run the kit on a broken backend; run on its own it
// does nothing.
func TestBrokenBackend(t *testing.T) {
	d := defect(os.Getenv(defectEnv))
	if d == "" {
		return
	}
	if s := os.Getenv(slowCloseEnv); s != "" {
		limit, err := time.ParseDuration(s)
		require.NoError(t, err)
		pop3test.SetSlowClose(t, limit)
	}
	pop3test.TestBackend(t, newKitBackend(d))
}

// kitRun is the outcome of TestBrokenBackend in a child process.
type kitRun struct {
	out  string
	exit int // 0 when the kit passed, 1 when it failed, 2 when the binary died
	// result and output map a subtest of TestBrokenBackend, such as
	// "Message/readable_twice", to "PASS", "FAIL" or "SKIP", and to what
	// it logged.
	result, output map[string]string
}

// runBrokenBackend runs the subtests of TestBrokenBackend that pattern
// (a -test.run pattern) selects, on a kitBackend with defect d, in a child
// process, and gathers what each reported. env adds variables.
func runBrokenBackend(t *testing.T, d defect, pattern string, env ...string) kitRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(append(os.Environ(), defectEnv+"="+string(d)), env...)
	out, err := cmd.CombinedOutput()
	run := kitRun{out: string(out), result: make(map[string]string), output: make(map[string]string)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.exit = exit.ExitCode()
	case err != nil:
		require.NoError(t, err, "running the kit in a child process")
	}
	header := regexp.MustCompile(`^=== (?:RUN|CONT|NAME|PAUSE)\s+TestBrokenBackend/(\S+)`)
	verdict := regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): TestBrokenBackend/(\S+)`)
	current := ""
	for _, line := range strings.Split(run.out, "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			current = m[1]
		} else if m := verdict.FindStringSubmatch(line); m != nil {
			run.result[m[2]] = m[1]
		} else if current != "" {
			run.output[current] += line + "\n"
		}
	}
	return run
}

// kitBackend is a small, correct backend (APOP and delivery included)
// unless it is built with a defect.
type kitBackend struct {
	defect defect

	mu       sync.Mutex
	users    map[string]*kitUser
	sessions int
}

type kitUser struct {
	b        *kitBackend
	name     string
	password string
	msgs     []kitMessage
	nextUID  int
	locked   bool
}

type kitMessage struct {
	uid  string
	data []byte
}

func newKitBackend(d defect) func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
	return func(t *testing.T, accounts []pop3test.Account) pop3.Backend {
		if d == newBackendPanics {
			panic("boom")
		}
		b := &kitBackend{defect: d, users: make(map[string]*kitUser)}
		for _, a := range accounts {
			u := &kitUser{b: b, name: a.Username, password: a.Password}
			b.users[a.Username] = u
			for _, m := range a.Messages {
				u.add(m)
			}
		}
		return b
	}
}

func (u *kitUser) add(raw []byte) {
	data := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	if u.b.defect == storesDotStuffed {
		data = bytes.ReplaceAll(data, []byte("\n."), []byte("\n.."))
	}
	if u.b.defect != bareLFContent {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	u.nextUID++
	uid := u.nextUID
	if u.b.defect == uidsReused {
		uid = len(u.msgs) + 1
	}
	u.msgs = append(u.msgs, kitMessage{uid: "m" + strconv.Itoa(uid), data: data})
}

func (b *kitBackend) user(name string) *kitUser {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.users[name]
}

func (b *kitBackend) Login(_ context.Context, _ *pop3.ConnInfo, username, password string) (pop3.User, error) {
	if b.defect == bobLoginPanics && username == "bob" {
		panic("boom")
	}
	u := b.user(username)
	if u == nil && b.defect == unknownUserTells {
		return nil, &pop3.Error{Code: pop3.CodeAuth, Text: "no such user"}
	}
	if u == nil || u.password != password {
		return nil, pop3.ErrAuthFailed
	}
	return u, nil
}

func (b *kitBackend) LoginAPOP(_ context.Context, _ *pop3.ConnInfo, username, timestamp, digest string) (pop3.User, error) {
	u := b.user(username)
	if u == nil || !pop3.VerifyAPOP(timestamp, u.password, digest) && b.defect != apopAcceptsAnyDigest {
		return nil, pop3.ErrAuthFailed
	}
	return u, nil
}

func (b *kitBackend) Deliver(_ context.Context, username string, msg io.Reader) error {
	raw, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[username]
	if u == nil {
		if b.defect == deliverAcceptsUnknown {
			return nil
		}
		return fmt.Errorf("kit: %w: %s", pop3.ErrNoSuchUser, username)
	}
	u.add(raw)
	return nil
}

func (u *kitUser) Open(context.Context) (pop3.Mailbox, error) {
	b := u.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if u.locked && b.defect != openDoesNotLock {
		return nil, pop3.ErrMailboxLocked
	}
	u.locked = true
	b.sessions++
	return &kitMailbox{u: u, msgs: append([]kitMessage(nil), u.msgs...), session: b.sessions}, nil
}

type kitMailbox struct {
	u       *kitUser
	msgs    []kitMessage
	session int
}

func (m *kitMailbox) Messages() []pop3.MessageInfo {
	msgs := m.msgs
	if m.u.b.defect == listingSeesNewMail {
		m.u.b.mu.Lock()
		msgs = append([]kitMessage(nil), m.u.msgs...)
		m.u.b.mu.Unlock()
	}
	infos := make([]pop3.MessageInfo, len(msgs))
	for i, msg := range msgs {
		infos[i] = pop3.MessageInfo{UID: msg.uid, Size: int64(len(msg.data))}
		switch m.u.b.defect {
		case uidsChangePerSession:
			infos[i].UID += "." + strconv.Itoa(m.session)
		case sizeOffByOne:
			infos[i].Size++
		case downgradedIsSize:
			infos[i].DowngradedSize = infos[i].Size
		}
	}
	return infos
}

func (m *kitMailbox) Message(ctx context.Context, i int) (io.ReadCloser, error) {
	if m.u.b.defect == messagePanics {
		panic("boom")
	}
	if err := ctx.Err(); err != nil && m.u.b.defect != ignoresCancelledCtx {
		return nil, err
	}
	if i < 0 || i >= len(m.msgs) {
		return nil, errors.New("kit: no such message")
	}
	if m.u.b.defect == retrRemoves {
		m.remove(map[string]bool{m.msgs[i].uid: true})
	}
	return io.NopCloser(bytes.NewReader(m.msgs[i].data)), nil
}

func (m *kitMailbox) Delete(_ context.Context, indexes []int) error {
	gone := make(map[string]bool)
	for n, i := range indexes {
		if m.u.b.defect == deleteIgnoresIndexes {
			i = n
		}
		gone[m.msgs[i].uid] = true
	}
	m.remove(gone)
	return nil
}

func (m *kitMailbox) remove(gone map[string]bool) {
	m.u.b.mu.Lock()
	defer m.u.b.mu.Unlock()
	kept := m.u.msgs[:0:0]
	for _, msg := range m.u.msgs {
		if !gone[msg.uid] {
			kept = append(kept, msg)
		}
	}
	m.u.msgs = kept
}

func (m *kitMailbox) Close() error {
	m.u.b.mu.Lock()
	defer m.u.b.mu.Unlock()
	if m.u.b.defect != closeDoesNotUnlock {
		m.u.locked = false
	}
	switch m.u.b.defect {
	case closePanics:
		panic("boom")
	case closeIsSlow:
		time.Sleep(slowCloseTime)
	}
	return nil
}
