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

// A server logs the stack of a panic on one line, with full import paths,
// which tell a backend's reader from the standard library's.
func TestParseStack(t *testing.T) {
	oneLine := "example.com/store.(*reader).Read (reader.go:12) < io.ReadAtLeast (io.go:335) < " +
		"github.com/gopop3/pop3.(*crlfReader).Read (crlf.go:101) < " +
		"github.com/gopop3/pop3.(*session).cmdRetr (commands.go:221) < github.com/gopop3/pop3.(*Server).startSession.func1 (server.go:510)"
	frames := parseStack(oneLine)
	assert.Equal(t, []frame{
		{"example.com/store.(*reader).Read", "reader.go", 12},
		{"io.ReadAtLeast", "io.go", 335},
		{"github.com/gopop3/pop3.(*crlfReader).Read", "crlf.go", 101},
		{"github.com/gopop3/pop3.(*session).cmdRetr", "commands.go", 221},
		{"github.com/gopop3/pop3.(*Server).startSession.func1", "server.go", 510},
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
