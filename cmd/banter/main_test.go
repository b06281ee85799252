package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/internal/testutil"
)

type buf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func noEnv(string) string { return "" }

func runCmd(t *testing.T, env func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut buf
	code := run(context.Background(), args, env, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(dir, "ok.db")
	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"version", nil, []string{"version"}, exitOK, "banter ", ""},
		{"help", nil, []string{"--help"}, exitOK, "-log-level", ""},
		{"help command", nil, []string{"help"}, exitOK, "-addr", ""},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"--nope"}, exitUsage, "", "unknown flag --nope"},
		{"bad log level", nil, []string{"--log-level", "loud"}, exitUsage, "", "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml"}, exitUsage, "", `--log-format "xml": want text or json`},
		{"bad value in env", map[string]string{"BANTER_PING_INTERVAL": "soon"}, nil, exitUsage, "", `BANTER_PING_INTERVAL="soon": invalid value`},
		{"bad store URL", nil, []string{"--store", "mysql://u:pw@h/db"}, exitUsage, "", `--store "mysql://u:xxxxx@h/db": want postgres://`},
		{"stray argument", nil, []string{"serve", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{"negative limit", nil, []string{"--rate-burst", "-1"}, exitUsage, "", "must be positive"},
		{"port taken", nil, []string{"--addr", busy.Addr().String(), "--db", db}, exitListen, "", "another program uses this port"},
		{"port taken via env", map[string]string{"BANTER_ADDR": busy.Addr().String(), "BANTER_DB": db}, nil, exitListen, "", "cannot listen on " + busy.Addr().String()},
		{"database cannot be opened", nil, []string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "missing", "dir", "x.db")}, exitDatabase, "", "cannot open the database"},
		{"database hint", nil, []string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "missing", "dir", "x.db")}, exitDatabase, "", "check that the directory of --db exists and is writable"},
		{"database is a directory", map[string]string{"BANTER_DB": dir}, []string{"--addr", "127.0.0.1:0"}, exitDatabase, "", "cannot open the database " + dir},
		{"bad advertise", nil, []string{"--advertise", "10.0.0.5:3000"}, exitUsage, "", "--advertise"},
		{"bad cluster ttl", nil, []string{"--cluster-heartbeat", "2s", "--cluster-ttl", "3s"}, exitUsage, "", "--cluster-ttl"},
		{"bench usage", nil, []string{"bench"}, exitUsage, "", "missing subcommand"},
		{"tls cert without key", nil, []string{"--tls-cert", "c.pem"}, exitUsage, "", "--tls-cert and --tls-key go together"},
		{"tls files missing", nil, []string{"--addr", "127.0.0.1:0", "--db", db, "--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, exitUsage, "", "cannot load the TLS certificate"},
		{"bad origin", nil, []string{"--cors-origins", "chat.example.com"}, exitUsage, "", `--cors-origins: guard: origin "chat.example.com": want scheme://host`},
		{"auth required without keys", nil, []string{"--addr", "127.0.0.1:0", "--db", db, "--auth-mode", "required"}, exitUsage, "", "mode required needs"},
		{"bad auth mode", nil, []string{"--auth-mode", "open"}, exitUsage, "", "--auth-mode"},
		{"short JWT secret", map[string]string{"BANTER_JWT_SECRET": "short"}, []string{"--addr", "127.0.0.1:0", "--db", db}, exitUsage, "", "at least 32 are required"},
		{"missing secret file", nil, []string{"--jwt-secret-file", filepath.Join(dir, "nope")}, exitUsage, "", "--jwt-secret-file"},
		{"token without sub", map[string]string{"BANTER_JWT_SECRET": "0123456789abcdef0123456789abcdef"}, []string{"token"}, exitUsage, "", "--sub is required"},
		{"token without key", nil, []string{"token", "--sub", "alice"}, exitUsage, "", "--secret-file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) string { return c.env[k] }
			code, out, errOut := runCmd(t, env, c.args...)
			if code != c.code || !strings.Contains(out, c.wantOut) || !strings.Contains(errOut, c.wantErr) {
				t.Errorf("banter %q: exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout containing %q, stderr containing %q",
					c.args, code, c.code, out, errOut, c.wantOut, c.wantErr)
			}
		})
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	_, out, _ := runCmd(t, noEnv, "--help")
	newServeFlags(&buf{}).fs.VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		if !strings.Contains(out, "--"+f.Name) || !strings.Contains(out, usage) || !strings.Contains(out, "env "+envName(f.Name)) {
			t.Errorf("--help does not explain --%s (its meaning and env %s)", f.Name, envName(f.Name))
		}
	})
}

// serve runs until its context ends (a stop signal), then stops cleanly
// with exit code 0.
func TestServeStopsOnSignal(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	var out, errOut buf
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "b.db"), "--log-level", "debug"}, noEnv, &out, &errOut)
	}()
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(errOut.String(), "Banter listening on http://localhost:") },
		"no listening line")
	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after stop, want 0\n%s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errOut.String(), "Banter stopped") {
		t.Errorf("no clean stop in the log:\n%s", errOut.String())
	}
}

// SIGHUP reloads the TLS certificate of a running server; a broken file
// keeps the old one and says so.
func TestSIGHUPReloadsTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, cert, key)
	ctx, stop := context.WithCancel(context.Background())
	var out, errOut buf
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--tls-cert", cert, "--tls-key", key}, noEnv, &out, &errOut)
	}()
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(errOut.String(), "Banter listening on https://localhost:") },
		"no https listening line")
	if err := os.WriteFile(key, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(errOut.String(), "TLS certificate not reloaded; the previous one stays in use")
	}, "no log line for the failed reload")
	writeSelfSigned(t, cert, key)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(errOut.String(), "SIGHUP: TLS certificate reloaded") },
		"no log line for the reload")
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTokenHelper: `banter token` prints a token that the verifier of the
// same secret accepts, with the claims asked for.
func TestTokenHelper(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, noEnv, "token", "--secret-file", file, "--sub", "u1", "--name", "Alice", "--rooms", "general,team-*", "--post", "", "--admin")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Authenticate(context.Background(), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("the printed token does not verify: %v", err)
	}
	if id.Subject != "u1" || id.Nickname != "Alice" || !id.Admin || len(id.Rooms) != 2 || id.Post == nil || len(id.Post) != 0 {
		t.Fatalf("identity %+v", id)
	}
}
