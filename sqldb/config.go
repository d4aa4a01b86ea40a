package sqldb

import (
	"strings"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

// Config is a dovecot-sql.conf.ext: the settings of Dovecot 2.3's SQL
// passdb and userdb, as described at
// https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/.
type Config struct {
	// Path is the file the configuration was read from ("" when built
	// in code); messages name it.
	Path string
	// Driver is "pgsql", "mysql" or "sqlite".
	Driver string
	// Connect is the connection string in Dovecot's form: for pgsql
	// libpq's "host=... dbname=... user=... password=...", for mysql
	// "host=... port=... dbname=... user=... password=..." (and the
	// ssl_* and *_timeout keys), for sqlite the database file's path.
	// Dovecot's maxconns=N (default 5) bounds the open connections.
	Connect string
	// DefaultPassScheme is the scheme of a password without a {SCHEME}
	// prefix; Dovecot's default for SQL is "MD5" (MD5-CRYPT).
	DefaultPassScheme string
	// PasswordQuery returns the user's password and passdb extra fields,
	// userdb_-prefixed fields among them (Dovecot's prefetch).
	PasswordQuery string
	// UserQuery, when not empty, returns the userdb fields (home, mail,
	// uid, gid and extra fields) when PasswordQuery returned none.
	UserQuery string
	// IterateQuery lists the users, for Dovecot's doveadm; it is read
	// and checked but not used.
	IterateQuery string
}

// knownKeys are the settings of a dovecot-sql.conf.ext.
var knownKeys = []string{"driver", "connect", "default_pass_scheme", "password_query", "user_query", "iterate_query"}

// ReadConfig reads a Dovecot dovecot-sql.conf.ext and checks it as
// [Open] does. A line that does not parse, an unknown key, a
// missing driver, connect or password_query, and a query that cannot be
// compiled are errors that name the file, the line and the key.
func ReadConfig(path string) (*Config, error) {
	c, _, err := readConfig(path)
	return c, err
}

// readConfig reads and checks the file at path.
func readConfig(path string) (*Config, *compiled, error) {
	m, err := dovecotconf.ReadSettings("sqldb", path, knownKeys)
	if err != nil {
		return nil, nil, err
	}
	c := &Config{
		Path:              path,
		Driver:            m["driver"].Value,
		Connect:           m["connect"].Value,
		DefaultPassScheme: m["default_pass_scheme"].Value,
		PasswordQuery:     m["password_query"].Value,
		UserQuery:         m["user_query"].Value,
		IterateQuery:      m["iterate_query"].Value,
	}
	comp, err := c.compile(m.Line)
	if err != nil {
		return nil, nil, err
	}
	return c, comp, nil
}

// compiled is a checked Config, ready to run.
type compiled struct {
	dialect       dialect
	connect       *connectString
	passwordQuery *query
	userQuery     *query // nil when there is none
	defaultScheme string
}

// compile checks c. line, when not nil, finds the line of a key for
// messages.
func (c *Config) compile(line func(key string) int) (*compiled, error) {
	fail := dovecotconf.Failer("sqldb", c.Path, line)
	if c.Driver == "" {
		return nil, fail("driver", "missing; set it to pgsql, mysql or sqlite")
	}
	d, ok := dialects[c.Driver]
	if !ok {
		return nil, fail("driver", "%q is not supported (pgsql, mysql or sqlite)", c.Driver)
	}
	if strings.TrimSpace(c.Connect) == "" {
		return nil, fail("connect", "missing; it says where the database is")
	}
	cs, err := parseConnect(c.Driver, c.Connect)
	if err != nil {
		return nil, fail("connect", "%v", err)
	}
	if strings.TrimSpace(c.PasswordQuery) == "" {
		return nil, fail("password_query", "missing; it finds a user's password (pop3d does not assume Dovecot's default schema)")
	}
	out := &compiled{dialect: d, connect: cs, defaultScheme: "MD5"}
	if out.passwordQuery, err = compile(c.PasswordQuery, d); err != nil {
		return nil, fail("password_query", "%v", err)
	}
	if strings.TrimSpace(c.UserQuery) != "" {
		if out.userQuery, err = compile(c.UserQuery, d); err != nil {
			return nil, fail("user_query", "%v", err)
		}
	}
	if strings.TrimSpace(c.IterateQuery) != "" {
		if _, err := compile(c.IterateQuery, d); err != nil {
			return nil, fail("iterate_query", "%v", err)
		}
	}
	if c.DefaultPassScheme != "" {
		if out.defaultScheme, err = dovecotconf.CheckScheme(c.DefaultPassScheme); err != nil {
			return nil, fail("default_pass_scheme", "%v", err)
		}
	}
	return out, nil
}
