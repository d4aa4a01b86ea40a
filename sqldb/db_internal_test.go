package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
)

// Only a broken connection is worth a second try on another: an error of
// the query, or a timeout, would only fail again, later.
func TestBrokenConn(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{driver.ErrBadConn, true},
		{mysql.ErrInvalidConn, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{&net.OpError{Op: "read", Err: syscall.ECONNREFUSED}, true},
		{&pgconn.PgError{Code: "57P01"}, true},   // admin_shutdown
		{&pgconn.PgError{Code: "42703"}, false},  // undefined_column
		{&mysql.MySQLError{Number: 1054}, false}, // unknown column
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, false},
		{errors.New("syntax error"), false},
	} {
		assert.Equal(t, tc.want, brokenConn(tc.err), "%v", tc.err)
	}
}
