package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// testCA is a certificate authority made for one test, and the server
// certificates it signs for 127.0.0.1 / localhost.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Banter test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server certificate with serial into certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serverSerial connects over TLS and returns the serial of the server's
// certificate.
func serverSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// HTTPS, WSS (polling, upgrade, WebSocket only) and MQTTS with the
// official clients, and a certificate replaced without a restart.
func TestTLS(t *testing.T) {
	testutil.RequireNode(t)
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, 100, certFile, keyFile)

	base, a := apptest.Serve(t, app.Config{TLSCertFile: certFile, TLSKeyFile: keyFile, MQTTAddr: "127.0.0.1:0"})
	addr := strings.TrimPrefix(base, "https://")
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)

	// Plain HTTP on the TLS port is not served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "ok") {
			t.Error("plain HTTP served on the TLS port")
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("https /healthz: %d", resp.StatusCode)
	}

	mqtts := "mqtts://" + a.MQTTAddr().String()
	for _, tr := range []string{"polling,websocket", "websocket"} {
		args := []string{base, caFile, tr}
		if tr == "websocket" {
			args = append(args, mqtts)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		out, err := testutil.RunNode(t, ctx, "testdata/tlsuser.js", args...)
		cancel()
		var rep struct {
			OK        bool   `json:"ok"`
			Transport string `json:"transport"`
			MQTT      string `json:"mqtt"`
			Error     string `json:"error"`
		}
		if jerr := json.Unmarshal([]byte(strings.TrimSpace(out)), &rep); jerr != nil || err != nil || !rep.OK || rep.Transport != "websocket" {
			t.Fatalf("transports %s: %v %+v\n%s", tr, err, rep, out)
		}
		if tr == "websocket" && rep.MQTT != "published" {
			t.Errorf("MQTTS: %+v", rep)
		}
	}
	msgs, err := a.Service().Rooms(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || msgs[0].LastSeq < 3 {
		t.Errorf("rooms after the TLS clients: %+v, want general with 3 messages", msgs)
	}

	// A new certificate, reloaded without a restart: new connections get it.
	if got := serverSerial(t, addr, roots); got != 100 {
		t.Fatalf("serial %d, want 100", got)
	}
	ca.issue(t, 101, certFile, keyFile)
	if err := a.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := serverSerial(t, addr, roots); got != 101 {
		t.Errorf("after ReloadTLS: serial %d, want 101", got)
	}
	if got := serverSerial(t, a.MQTTAddr().String(), roots); got != 101 {
		t.Errorf("MQTTS after ReloadTLS: serial %d, want 101", got)
	}
	// A broken file keeps the current certificate.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "cannot load the TLS certificate") {
		t.Errorf("ReloadTLS with a broken key: %v", err)
	}
	if got := serverSerial(t, addr, roots); got != 101 {
		t.Errorf("after a failed reload: serial %d, want 101", got)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []app.Config{
		{TLSCertFile: filepath.Join(dir, "cert.pem")},
		{TLSCertFile: filepath.Join(dir, "missing.pem"), TLSKeyFile: filepath.Join(dir, "missing.key")},
	} {
		cfg.DBPath = filepath.Join(dir, "b.db")
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if a, err := app.New(cfg); err == nil {
			a.Shutdown(t.Context())
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
