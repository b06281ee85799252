// Package xmpp_test runs real XMPP clients against Banter and against
// prosody, the reference server, with the same scripted scenarios:
// slixmpp (Debian python3-slixmpp), go-sendxmpp, @xmpp/client in Node and
// in headless Chromium over the WebSocket binding, and profanity in tmux.
// A cross-gateway test puts an XMPP client, a Socket.IO client and an
// MQTT client in one room.
package xmpp_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

const domain = "localhost"

// certFiles writes a self-signed RSA-2048 certificate for localhost (and
// rooms.localhost) into dir: both servers use the same one.
func certFiles(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain, "rooms." + domain},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
	return certFile, keyFile
}

// target is a server the scenarios run against.
type target struct {
	name     string
	logFile  string // prosody's
	host     string
	port     int    // XMPP client port (STARTTLS)
	httpURL  string // for the WebSocket binding (ws://…/xmpp or prosody's /xmpp-websocket)
	wsPath   string
	password func(user string) string
	banter   *testutil.Banter // nil for prosody
}

var xmppLine = regexp.MustCompile(`Banter XMPP on (\S+?)"?(\s|$)`)

// startBanter runs the banter binary with XMPP (STARTTLS with a
// self-signed certificate) and JWTs accepted (anonymous mode): every
// user logs in with a token as the password, so a user may have several
// resources, as on prosody.
func startBanter(t testing.TB, extra ...string) *target {
	t.Helper()
	return startBanterTLS(t, true, extra...)
}

// startBanterTLS is startBanter with or without the certificate (without:
// plain XMPP, and ws:// for the WebSocket binding, on the event loop).
func startBanterTLS(t testing.TB, withTLS bool, extra ...string) *target {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s3cr3t-", 8)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "banter.db"),
		"--xmpp", "127.0.0.1:0", "--xmpp-domain", domain,
		"--jwt-secret-file", secret, "--rate-burst", "200", "--rate-per-second", "100"}
	if withTLS {
		cert, key := certFiles(t, dir)
		args = append(args, "--tls-cert", cert, "--tls-key", key)
	}
	args = append(args, extra...)
	p := testutil.StartBanter(t, args...)
	m := xmppLine.FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("no XMPP address in the log:\n%s", p.Stderr.String())
	}
	_, portStr, _ := net.SplitHostPort(m[1])
	port, _ := strconv.Atoi(portStr)
	bin := testutil.BanterBinary(t)
	tokens := map[string]string{}
	return &target{
		name: "banter", host: "127.0.0.1", port: port, banter: p,
		httpURL: p.URL, wsPath: "/xmpp",
		password: func(user string) string {
			if tok, ok := tokens[user]; ok {
				return tok
			}
			out, err := exec.Command(bin, "token", "--secret-file", secret, "--sub", user, "--ttl", "1h").Output()
			if err != nil {
				t.Fatalf("banter token: %v", err)
			}
			tokens[user] = strings.TrimSpace(string(out))
			return tokens[user]
		},
	}
}

// freePort returns a port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// prosodyUsers are registered on the reference server, password "secret".
var prosodyUsers = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

// startProsody runs Debian's prosody unprivileged in a temporary
// directory (MEASURED.md): its own ports, the same kind of certificate,
// MUC with MAM, carbons, stream management, the WebSocket binding. Its
// rooms follow Banter's room policy: created by the first join, not
// locked until configured, persistent (a client that does not configure
// new rooms, such as go-sendxmpp, works on both).
func startProsody(t testing.TB) *target {
	t.Helper()
	if _, err := exec.LookPath("prosody"); err != nil {
		t.Fatal("prosody is not installed: run scripts/deps.sh")
	}
	// A port found free may be taken by another process before prosody
	// binds it (other tests run on this machine): then try other ports.
	for range 5 {
		if tg := startProsodyOnce(t); tg != nil {
			return tg
		}
	}
	t.Fatal("prosody could not bind its ports in 5 attempts")
	return nil
}

// startProsodyOnce returns nil when prosody could not bind its ports.
func startProsodyOnce(t testing.TB) *target {
	t.Helper()
	dir := t.TempDir()
	cert, key := certFiles(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	c2s, httpPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`run_as_root = true
daemonize = false
pidfile = %[1]q
data_path = %[2]q
certificates = %[8]q
log = { info = %[3]q; error = %[3]q }
c2s_ports = { %[4]d }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { %[5]d }
interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
https_ports = { }
admin_socket = %[9]q
modules_enabled = { "roster", "saslauth", "tls", "disco", "carbons", "ping", "mam", "smacks", "posix", "websocket", "http" }
modules_disabled = { "s2s" }
allow_registration = false
c2s_require_encryption = true
authentication = "internal_plain"
storage = "internal"
archive_expires_after = "never"
default_archive_policy = true
consider_websocket_secure = true
cross_domain_websocket = true
ssl = { certificate = %[6]q; key = %[7]q }
VirtualHost "localhost"
Component "rooms.localhost" "muc"
  modules_enabled = { "muc_mam" }
  muc_log_by_default = true
  muc_room_default_history_length = 20
  muc_room_locking = false
  muc_room_default_persistent = true
`, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), filepath.Join(dir, "prosody.log"),
		c2s, httpPort, cert, key, filepath.Join(dir, "certs"), filepath.Join(dir, "admin.sock"))
	conf := filepath.Join(dir, "prosody.cfg.lua")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range prosodyUsers {
		cmd := exec.Command("prosodyctl", "--config", conf, "register", u, domain, "secret")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u, err, out)
		}
	}
	cmd := exec.Command("prosody", "--config", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "prosody.log"))
			t.Logf("prosody log:\n%s", log)
		}
	})
	logFile := filepath.Join(dir, "prosody.log")
	deadline := time.Now().Add(20 * time.Second)
	for {
		log, _ := os.ReadFile(logFile)
		switch {
		case bytes.Contains(log, []byte("Failed to open server port")):
			_ = cmd.Process.Kill()
			<-done
			return nil
		case bytes.Contains(log, []byte(fmt.Sprintf("'c2s' on [127.0.0.1]:%d", c2s))) &&
			bytes.Contains(log, []byte(fmt.Sprintf("'http' on [127.0.0.1]:%d", httpPort))):
			return &target{
				name: "prosody", logFile: logFile, host: "127.0.0.1", port: c2s,
				httpURL: "http://127.0.0.1:" + strconv.Itoa(httpPort), wsPath: "/xmpp-websocket",
				password: func(string) string { return "secret" },
			}
		case time.Now().After(deadline):
			t.Fatalf("prosody did not start within 20s:\n%s", log)
		}
		select {
		case <-done:
			t.Fatalf("prosody exited:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// scenario runs scenarios.py name against tg and returns its transcript.
func scenario(t testing.TB, tg *target, name string, users ...string) (string, error) {
	t.Helper()
	return scenarioArgs(t, tg, name, nil, users...)
}

func scenarioArgs(t testing.TB, tg *target, name string, extra []string, users ...string) (string, error) {
	t.Helper()
	args := []string{"scenarios.py", name, "--host", tg.host, "--port", strconv.Itoa(tg.port),
		"--domain", domain, "--muc", "rooms." + domain, "--tls"}
	for _, u := range users {
		args = append(args, "--user", u+"="+tg.password(u))
	}
	args = append(args, extra...)
	cmd := exec.Command("/usr/bin/python3", args...)
	out, err := cmd.Output()
	return string(out), err
}

func itoa(n int) string { return strconv.Itoa(n) }

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return strconv.Quote(s) }
