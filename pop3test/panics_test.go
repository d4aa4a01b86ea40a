package pop3test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMethodName(t *testing.T) {
	tests := map[string]string{
		"example.com/store.(*mailbox).Message":          "Message",
		"example.com/store.mailbox.Message.func1":       "Message",
		"example.com/store.(*mailbox).Message.func2.1":  "Message",
		"example.com/store.(*mailbox).Close-fm":         "Close",
		"example.com/store.(*Box[...]).Top":             "Top",
		"example.com/store/v2.newStore.func3":           "newStore",
		"github.com/gopop3/pop3.BackendFunc.Login":      "Login",
		"pop3test_test.(*kitMailbox).Message":           "Message",
		"gopkg.in/store.v1.(*user).Open":                "Open",
		"mystore.(*user).LastLogin":                     "LastLogin",
		"example.com/store.(*reader).Read.deferwrap1":   "Read",
		"example.com/store.(*mailbox).Delete.gowrap2.3": "Delete",
	}
	for function, want := range tests {
		assert.Equal(t, want, methodName(function), function)
	}
}

func TestPackagePath(t *testing.T) {
	tests := map[string]string{
		"example.com/store.(*mailbox).Message": "example.com/store",
		"example.com/a/b.f.func1":              "example.com/a/b",
		"bytes.(*Buffer).ReadFrom":             "bytes",
		"io.ReadAll":                           "io",
		"runtime.gopanic":                      "runtime",
		"pop3.(*session).cmdRetr":              "pop3",
	}
	for function, want := range tests {
		assert.Equal(t, want, packagePath(function), function)
	}
	assert.True(t, isStandard("io.ReadAll"))
	assert.True(t, isStandard("net/textproto.(*Reader).ReadLine"))
	assert.False(t, isStandard("example.com/store.(*reader).Read"))
	assert.False(t, isStandard("main.(*store).Open"))
}

func TestPanicked(t *testing.T) {
	kitRead := frame{Function: kitPackage + ".read", File: "/src/pop3test/contract.go", Line: 200}
	tests := []struct {
		name   string
		frames []frame
		want   string
	}{
		{"a method the kit called", []frame{
			{Function: "example.com/store.(*mailbox).index", File: "/src/store/mailbox.go"},
			{Function: "example.com/store.(*mailbox).Message", File: "/src/store/mailbox.go"},
			kitRead,
		}, "Message"},
		{"a reader's Read, through io.ReadAll", []frame{
			{Function: "example.com/store.(*reader).Read", File: "/src/store/reader.go"},
			{Function: "io.ReadAll", File: "/go/src/io/io.go"},
			kitRead,
		}, "Read"},
		{"the standard library itself", []frame{
			{Function: "bytes.growSlice", File: "/go/src/bytes/buffer.go"},
			{Function: "bytes.(*Buffer).ReadFrom", File: "/go/src/bytes/buffer.go"},
			kitRead,
		}, "ReadFrom"},
		{"through FaultBackend", []frame{
			{Function: kitPackage + ".(*Fault).apply", File: "/src/pop3test/fault.go"},
			{Function: kitPackage + ".(*faultMailbox).Message", File: "/src/pop3test/fault.go"},
			kitRead,
		}, "Message"},
		{"the kit's own code", []frame{kitRead}, ""},
		{"no kit frame", []frame{{Function: "example.com/store.f", File: "/src/store/f.go"}}, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, panicked(tt.frames, inKit), tt.name)
	}
}

// A server logs the stack of a panic on one line; it used to log
// runtime/debug.Stack's text.
func TestParseStack(t *testing.T) {
	oneLine := "pop3test_test.(*kitMailbox).Message (contract_test.go:309) < pop3.(*session).openMessage (commands.go:299) < " +
		"pop3.(*session).cmdRetr (commands.go:221) < pop3.(*Server).startSession.func1 (server.go:510)"
	frames := parseStack(oneLine)
	assert.Equal(t, []frame{
		{"pop3test_test.(*kitMailbox).Message", "contract_test.go", 309},
		{"pop3.(*session).openMessage", "commands.go", 299},
		{"pop3.(*session).cmdRetr", "commands.go", 221},
		{"pop3.(*Server).startSession.func1", "server.go", 510},
	}, frames)
	assert.Equal(t, "Message", panicked(frames, inServer))

	text := `goroutine 35 [running]:
runtime/debug.Stack()
	/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
github.com/gopop3/pop3.(*session).recoverPanic(0xc000162000, {0x8e9be0, 0x7}, 0xc0001a5b28)
	/src/pop3/session.go:307 +0x6a
panic({0x8e9be0?, 0xa3f4c0?})
	/usr/local/go/src/runtime/panic.go:787 +0x132
example.com/store.(*reader).Read(...)
	/src/store/reader.go:12
github.com/gopop3/pop3.(*crlfReader).Read(0xc0001b0000, {0xc0001c0000, 0x1000, 0x1000})
	/src/pop3/crlf.go:101 +0x51
github.com/gopop3/pop3.(*session).cmdRetr(0xc000162000, {0xc0001a5c10, 0x1, 0x1})
	/src/pop3/commands.go:221 +0x1d2
created by github.com/gopop3/pop3.(*Server).startSession in goroutine 20
	/src/pop3/server.go:505 +0x1e5
`
	frames = parseStack(text)
	assert.Equal(t, []frame{
		{"example.com/store.(*reader).Read", "/src/store/reader.go", 12},
		{"github.com/gopop3/pop3.(*crlfReader).Read", "/src/pop3/crlf.go", 101},
		{"github.com/gopop3/pop3.(*session).cmdRetr", "/src/pop3/commands.go", 221},
	}, frames)
	assert.Equal(t, "Read", panicked(frames, inServer))
}

func TestPanicReport(t *testing.T) {
	got := panicReport("Message", "boom", "in a session", []frame{
		{"example.com/store.(*mailbox).Message", "/src/store/mailbox.go", 42},
		{"github.com/gopop3/pop3/pop3test.read", "/src/pop3test/contract.go", 200},
		{"testing.tRunner", "/go/src/testing/testing.go", 1934},
	})
	assert.Equal(t, "Message panicked: boom\nin a session\nstack of the panic, innermost call first:\n"+
		"\texample.com/store.(*mailbox).Message\n\t\t/src/store/mailbox.go:42\n"+
		"\tgithub.com/gopop3/pop3/pop3test.read\n\t\t/src/pop3test/contract.go:200", got)
}
