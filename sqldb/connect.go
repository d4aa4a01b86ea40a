package sqldb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" driver: pure Go, so pop3d needs no cgo
)

// connectString is a parsed Connect.
type connectString struct {
	driver   string
	maxConns int
	// pgsql: the libpq string without Dovecot's own keys.
	pg *pgx.ConnConfig
	// mysql: one config per host= given, tried in turn.
	mysql []*mysql.Config
	// sqlite: the database file.
	sqlitePath string
}

// defaultMaxConns is Dovecot's maxconns default.
const defaultMaxConns = 5

// parseConnect reads a Dovecot connect string for driver.
func parseConnect(driver, s string) (*connectString, error) {
	cs := &connectString{driver: driver, maxConns: defaultMaxConns}
	if driver == "sqlite" {
		cs.sqlitePath = strings.TrimSpace(s)
		return cs, nil
	}
	pairs, err := splitPairs(s)
	if err != nil {
		return nil, err
	}
	var rest []string
	var hosts []string
	for _, p := range pairs {
		switch p.key {
		case "maxconns":
			n, err := strconv.Atoi(p.value)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("maxconns=%q is not a positive number", p.value)
			}
			cs.maxConns = n
		case "host":
			hosts = append(hosts, p.value)
		default:
			rest = append(rest, p.key+"="+quotePG(p.value))
		}
	}
	switch driver {
	case "pgsql":
		if len(hosts) > 0 {
			// libpq takes several hosts as one comma-separated list,
			// tried in turn, as Dovecot tries its host= entries.
			rest = append(rest, "host="+quotePG(strings.Join(hosts, ",")))
		}
		cfg, err := pgx.ParseConfig(strings.Join(rest, " "))
		if err != nil {
			return nil, errors.New(redactPassword(err.Error()))
		}
		cs.pg = cfg
	case "mysql":
		if len(hosts) == 0 {
			hosts = []string{"localhost"}
		}
		for _, h := range hosts {
			cfg, err := mysqlConfig(h, pairs)
			if err != nil {
				return nil, err
			}
			cs.mysql = append(cs.mysql, cfg)
		}
	}
	return cs, nil
}

type pair struct{ key, value string }

// splitPairs reads space-separated key=value pairs; a value may be in
// single quotes, with \' and \\ inside, as libpq's are.
func splitPairs(s string) ([]pair, error) {
	var out []pair
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("%q is not key=value", strings.Fields(s[i:])[0])
		}
		key := strings.TrimSpace(s[i : i+eq])
		if key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("malformed key before byte %d", i+eq)
		}
		i += eq + 1
		var value strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					value.WriteByte(s[i])
					continue
				}
				if s[i] == '\'' {
					i++
					closed = true
					break
				}
				value.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("the value of %s is not closed by a quote", key)
			}
		} else {
			for ; i < len(s) && s[i] != ' ' && s[i] != '\t'; i++ {
				value.WriteByte(s[i])
			}
		}
		out = append(out, pair{key, value.String()})
	}
	return out, nil
}

// quotePG quotes a value for a libpq connection string.
func quotePG(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// redactPassword drops what pgx quotes of a connection string: it may
// hold the password.
func redactPassword(msg string) string {
	if i := strings.Index(msg, "password="); i >= 0 {
		return msg[:i] + "password=(hidden)"
	}
	return msg
}

// mysqlConfig builds the driver's config for one host from Dovecot's
// MySQL keys.
func mysqlConfig(host string, pairs []pair) (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, "3306")
	if strings.HasPrefix(host, "/") {
		cfg.Net, cfg.Addr = "unix", host
	}
	cfg.Timeout = 5 * time.Second
	var tlsConf *tls.Config
	var certFile, keyFile string
	needTLS := false
	verify := "" // ssl_verify_server_cert: "yes", "no", or "" (not given)
	for _, p := range pairs {
		switch p.key {
		case "host", "maxconns":
		case "port":
			if _, err := strconv.ParseUint(p.value, 10, 16); err != nil {
				return nil, fmt.Errorf("port=%q is not a port number", p.value)
			}
			if cfg.Net == "tcp" {
				cfg.Addr = net.JoinHostPort(host, p.value)
			}
		case "dbname":
			cfg.DBName = p.value
		case "user":
			cfg.User = p.value
		case "password":
			cfg.Passwd = p.value
		case "connect_timeout", "read_timeout", "write_timeout":
			n, err := strconv.Atoi(p.value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s=%q is not a number of seconds", p.key, p.value)
			}
			d := time.Duration(n) * time.Second
			switch p.key {
			case "connect_timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "ssl_ca":
			pem, err := os.ReadFile(p.value)
			if err != nil {
				return nil, fmt.Errorf("ssl_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ssl_ca: %s holds no PEM certificate", p.value)
			}
			if tlsConf == nil {
				tlsConf = &tls.Config{}
			}
			tlsConf.RootCAs = pool
			needTLS = true
		case "ssl_cert":
			certFile, needTLS = p.value, true
		case "ssl_key":
			keyFile, needTLS = p.value, true
		case "ssl_verify_server_cert":
			switch p.value {
			case "yes", "1":
				verify = "yes"
			case "no", "0":
				verify = "no"
			default:
				return nil, fmt.Errorf("ssl_verify_server_cert=%q is neither yes nor no", p.value)
			}
			needTLS = true
		case "character_set":
			if err := cfg.Apply(mysql.Charset(p.value, "")); err != nil {
				return nil, fmt.Errorf("character_set=%q: %w", p.value, err)
			}
		case "client_flags", "ssl_ca_path", "ssl_cipher", "option_file", "option_group":
			return nil, fmt.Errorf("%s is not supported by pop3d's MySQL driver", p.key)
		default:
			return nil, fmt.Errorf("unknown key %q (host, port, dbname, user, password, connect_timeout, read_timeout, write_timeout, ssl_ca, ssl_cert, ssl_key, ssl_verify_server_cert, character_set, maxconns)", p.key)
		}
	}
	if needTLS {
		if tlsConf == nil {
			tlsConf = &tls.Config{}
		}
		// Dovecot 2.3 checks the server's certificate only when told
		// to (ssl_verify_server_cert=yes), against ssl_ca or else the
		// system's roots; so does pop3d, and also when ssl_ca is given
		// without ssl_verify_server_cert=no, since a CA given is a CA
		// meant to be checked against.
		tlsConf.InsecureSkipVerify = verify == "no" || (verify == "" && tlsConf.RootCAs == nil)
		if certFile != "" || keyFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("ssl_cert/ssl_key: %w", err)
			}
			tlsConf.Certificates = []tls.Certificate{cert}
		}
		if !tlsConf.InsecureSkipVerify {
			tlsConf.ServerName = host
		}
		cfg.TLS = tlsConf
	}
	return cfg, nil
}

// mysqlLogger sends the MySQL driver's messages (a dropped idle
// connection) to the DB's logger, at debug level: the driver's default
// writes them to standard error.
type mysqlLogger struct{ l *slog.Logger }

func (m mysqlLogger) Print(v ...any) { m.l.Debug("sqldb: mysql driver: " + fmt.Sprint(v...)) }

// open returns the database handle; it connects lazily, so a database
// that is down does not stop it.
func (cs *connectString) open(logger *slog.Logger) (*sql.DB, error) {
	var db *sql.DB
	switch cs.driver {
	case "pgsql":
		db = stdlib.OpenDB(*cs.pg)
	case "mysql":
		conns := make([]driver.Connector, len(cs.mysql))
		for i, cfg := range cs.mysql {
			cfg = cfg.Clone()
			cfg.Logger = mysqlLogger{logger}
			c, err := mysql.NewConnector(cfg)
			if err != nil {
				return nil, err
			}
			conns[i] = c
		}
		db = sql.OpenDB(failover(conns))
	case "sqlite":
		// Read-only: a user database is only ever read here. The busy
		// timeout waits out a writer holding the file's lock.
		u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: cs.sqlitePath}).EscapedPath(),
			RawQuery: "mode=ro&_pragma=busy_timeout%285000%29"}
		var err error
		if db, err = sql.Open("sqlite", u.String()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("driver %q is not supported", cs.driver)
	}
	db.SetMaxOpenConns(cs.maxConns)
	db.SetMaxIdleConns(cs.maxConns)
	// A connection a server or a firewall dropped long ago is replaced
	// before it is tried.
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// failover is a connector that tries each host in turn, as Dovecot's
// MySQL driver does with several host= entries.
type failoverConnector struct{ conns []driver.Connector }

func failover(c []driver.Connector) driver.Connector {
	if len(c) == 1 {
		return c[0]
	}
	return &failoverConnector{c}
}

func (f *failoverConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var errs []error
	for _, c := range f.conns {
		conn, err := c.Connect(ctx)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *failoverConnector) Driver() driver.Driver { return f.conns[0].Driver() }
