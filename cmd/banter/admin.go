package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/banter-chat/banter/app"
)

// adminFlags are the Socket.IO Admin UI flags of serve (docs/operations.md,
// "Socket.IO Admin UI"). The password's bcrypt hash is never a flag: a
// file, or BANTER_ADMIN_UI_PASSWORD_HASH.
type adminFlags struct {
	getenv   func(string) string
	enabled  bool
	user     string
	hashFile string
	mode     string
	readOnly bool
	sioKey   string
}

// adminHashEnv holds the dashboard password's bcrypt hash when no file is
// given.
const adminHashEnv = "BANTER_ADMIN_UI_PASSWORD_HASH"

func addAdminFlags(fs *flag.FlagSet) *adminFlags {
	f := &adminFlags{getenv: func(string) string { return "" }}
	fs.BoolVar(&f.enabled, "admin-ui", false, "serve the Socket.IO Admin UI: the dashboard at "+app.AdminUIPath+" and its /admin namespace (login: --admin-ui-user and a bcrypt hash from --admin-ui-password-file or "+adminHashEnv+"; banter admin-password makes one)")
	fs.StringVar(&f.user, "admin-ui-user", "admin", "the Admin UI's login `name`")
	fs.StringVar(&f.hashFile, "admin-ui-password-file", "", "`file` holding the bcrypt hash of the Admin UI's password; or set "+adminHashEnv+" (never a flag)")
	fs.StringVar(&f.mode, "admin-ui-mode", "development", "`mode` of the Admin UI: development (sockets, rooms, live events: one event per recipient of every emit) or production (statistics only)")
	fs.BoolVar(&f.readOnly, "admin-ui-readonly", false, "the Admin UI shows but cannot act (no emit, join, leave or disconnect)")
	fs.StringVar(&f.sioKey, "socketio-redis-key", app.SocketIORedisKey, "with --redis: the channel `prefix` of the Socket.IO Redis adapter this node listens on, for @socket.io/redis-emitter (its key option)")
	return f
}

// config checks the Admin UI settings and reads the hash.
func (f *adminFlags) config() (app.AdminUIConfig, error) {
	c := app.AdminUIConfig{Enabled: f.enabled, Username: f.user, ReadOnly: f.readOnly}
	switch f.mode {
	case "development":
	case "production":
		c.Production = true
	default:
		return c, fmt.Errorf("--admin-ui-mode %q: want development or production", f.mode)
	}
	if !f.enabled {
		return c, nil
	}
	if strings.TrimSpace(f.user) == "" {
		return c, errors.New("--admin-ui-user is empty")
	}
	hash, src := strings.TrimSpace(f.getenv(adminHashEnv)), adminHashEnv
	if f.hashFile != "" {
		b, err := os.ReadFile(f.hashFile)
		if err != nil {
			return c, fmt.Errorf("--admin-ui-password-file: %w", err)
		}
		hash, src = strings.TrimSpace(string(b)), "--admin-ui-password-file "+f.hashFile
	}
	if hash == "" {
		return c, fmt.Errorf("--admin-ui needs the bcrypt hash of a password: --admin-ui-password-file FILE or %s (make one with `banter admin-password`)", adminHashEnv)
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return c, fmt.Errorf("%s: not a bcrypt hash ($2a$, $2b$ or $2y$…; `banter admin-password` makes one): %v", src, err)
	}
	c.PasswordHash = hash
	return c, nil
}

// adminPasswordMain is `banter admin-password`: it reads a password (the
// first line of stdin) and prints its bcrypt hash, for
// --admin-ui-password-file or BANTER_ADMIN_UI_PASSWORD_HASH.
func adminPasswordMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("banter admin-password", flag.ContinueOnError)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt `cost` (4-31; each step doubles the work of a login)")
	usage := func(w io.Writer) {
		fmt.Fprint(w, "Usage: banter admin-password [--cost N] < password-file\n\nReads a password from the first line of stdin and prints its bcrypt hash for\n--admin-ui-password-file or "+adminHashEnv+".\n\n")
		printUsage(w, fs)
	}
	if err := parseFlags(fs, args, "banter admin-password", usage, stdout); err != nil {
		return commandExit("banter admin-password", err, stderr)
	}
	if fs.NArg() > 0 {
		return commandExit("banter admin-password", usageError{"the password is read from stdin, not from the command line"}, stderr)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, "banter admin-password:", err)
		return exitFailure
	}
	pass := strings.TrimRight(line, "\r\n")
	if pass == "" {
		return commandExit("banter admin-password", usageError{"no password on stdin"}, stderr)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), *cost)
	if err != nil {
		return commandExit("banter admin-password", usageError{err.Error()}, stderr)
	}
	fmt.Fprintln(stdout, string(hash))
	return exitOK
}
