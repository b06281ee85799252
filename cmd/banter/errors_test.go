package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/internal/apptest"
)

// TestErrorsSayWhatToDo: every user-facing error of the command line says
// what happened and what to do, in a few lines, without Go internals (issue
// 19, item 14).
func TestErrorsSayWhatToDo(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		wantErr []string
	}{
		{"unknown flag", nil, []string{"--prot", "3000"}, exitUsage, []string{"unknown flag --prot", "--addr", "banter --help"}},
		{"unknown flag of config", nil, []string{"config", "--adress", ":3000"}, exitUsage, []string{"unknown flag --adress", "--addr :3900"}},
		{"misspelt flag", nil, []string{"--log-levle", "debug"}, exitUsage, []string{"unknown flag --log-levle (did you mean --log-level?)"}},
		{"bad duration", nil, []string{"--ping-interval", "soon"}, exitUsage, []string{`--ping-interval "soon": invalid value: want a duration`}},
		{"flag without value", nil, []string{"--addr"}, exitUsage, []string{"--addr needs a value"}},
		{"config bad address", nil, []string{"config", "--addr", "nonsense"}, exitUsage, []string{`--addr "nonsense": want host:port`}},
		{"serve bad address", nil, []string{"serve", "--addr", "nonsense"}, exitUsage, []string{`--addr "nonsense": want host:port`}},
		{"config bad port", nil, []string{"config", "--tcp", ":70000"}, exitUsage, []string{`--tcp ":70000"`}},
		{"config short secret", map[string]string{"BANTER_JWT_SECRET": "short"}, []string{"config"}, exitUsage, []string{"the HMAC secret is 5 bytes; at least 32 are required"}},
		{"config TLS files missing", nil, []string{"config", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, exitUsage, []string{"cannot load the TLS certificate"}},
		{"chat unknown flag", nil, []string{"chat", "--nik", "bob"}, exitUsage, []string{"unknown flag --nik", "did you mean --nick?", "banter chat --help"}},
		{"token without key", nil, []string{"token", "--sub", "alice"}, exitUsage, []string{"no signing key: give --secret-file FILE, set BANTER_JWT_SECRET, or give --private-key FILE"}},
		{"token short secret", map[string]string{"BANTER_JWT_SECRET": "short"}, []string{"token", "--sub", "alice"}, exitUsage, []string{"the HMAC secret is 5 bytes; at least 32 are required"}},
		{"token bad key file", nil, []string{"token", "--sub", "alice", "--private-key", "/nonexistent/key.pem"}, exitUsage, []string{"--private-key /nonexistent/key.pem: no such file"}},
		{"token unknown algorithm", map[string]string{"BANTER_JWT_SECRET": secret}, []string{"token", "--sub", "alice", "--alg", "HS999"}, exitUsage, []string{"HS999"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, func(k string) string { return c.env[k] }, c.args...)
			bad := code != c.code
			for _, w := range c.wantErr {
				bad = bad || !strings.Contains(errOut, w)
			}
			if n := strings.Count(errOut, "\n"); n > 3 || strings.Contains(errOut, "<nil>") || strings.Contains(errOut, "map[") {
				bad = true
			}
			if bad {
				t.Errorf("banter %q: exit %d (want %d)\nstdout: %s\nstderr (%d lines): %s\nwant stderr of at most 3 lines containing %q",
					c.args, code, c.code, out, strings.Count(errOut, "\n"), errOut, c.wantErr)
			}
		})
	}
	// What config accepts, serve accepts too (same checks): a valid
	// configuration passes config.
	if code, _, errOut := runCmd(t, func(k string) string { return map[string]string{"BANTER_JWT_SECRET": secret}[k] }, "config", "--addr", "127.0.0.1:3900", "--tcp", "localhost:4000"); code != exitOK {
		t.Errorf("config of valid settings: exit %d\n%s", code, errOut)
	}
	// The token of a valid secret verifies.
	code, out, errOut := runCmd(t, func(k string) string { return map[string]string{"BANTER_JWT_SECRET": secret}[k] }, "token", "--sub", "alice")
	if code != exitOK {
		t.Fatalf("token: exit %d %s", code, errOut)
	}
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Authenticate(context.Background(), strings.TrimSpace(out)); err != nil || id.Subject != "alice" {
		t.Fatalf("the printed token does not verify: %v %+v", err, id)
	}
}

// TestChatErrorsSayWhatToDo: banter chat's connection errors name the
// problem and the fix, never Go values or "context deadline exceeded".
func TestChatErrorsSayWhatToDo(t *testing.T) {
	url, _ := apptest.Serve(t, app.Config{Auth: auth.Config{Mode: auth.ModeRequired, HMACSecret: []byte("0123456789abcdef0123456789abcdef")}})
	// A server that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad token", []string{"--url", url, "--token", "not.a.jwt"}, exitFailure, []string{"the server refused the connection", "get a new token"}},
		{"token required", []string{"--url", url, "--nick", "bob"}, exitFailure, []string{"requires a token", "--token"}},
		{"silent server", []string{"--url", "http://" + silent.Addr().String(), "--nick", "bob", "--timeout", "500ms"}, exitFailure, []string{"no answer within 500ms", "--url", "--timeout"}},
		{"bad URL", []string{"--url", "localhost:3000", "--nick", "bob"}, exitUsage, []string{"--url", "http://"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runChat(t, "", c.args...)
			bad := code != c.code || strings.Contains(errOut, "map[") || strings.Contains(errOut, "deadline exceeded") || strings.Count(errOut, "\n") > 2
			for _, w := range c.want {
				bad = bad || !strings.Contains(errOut, w)
			}
			if bad {
				t.Errorf("exit %d\nstderr: %s\nwant %q", code, errOut, c.want)
			}
		})
	}
}

// TestVersion: `banter version` names what it was built from: a binary
// built by `make build` or `make run` carries scripts/version.sh's `git
// describe`; otherwise the build info's module version or VCS stamp.
func TestVersion(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	commit, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	v, err := exec.Command("sh", filepath.Join(strings.TrimSpace(string(root)), "scripts", "version.sh")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-zA-Z.+-]+\n$`).Match(v) || !strings.Contains(string(v), strings.TrimSpace(string(commit))[:7]) {
		t.Fatalf("scripts/version.sh = %q, want git describe of %s", v, commit)
	}
	// Built as the Makefile builds it.
	bin := filepath.Join(t.TempDir(), "banter")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+strings.TrimSpace(string(v)), "-o", bin, "./cmd/banter")
	build.Dir = strings.TrimSpace(string(root))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || string(out) != "banter "+string(v) {
		t.Fatalf("banter version = %q, %v; want %q", out, err, "banter "+string(v))
	}

	// Without the stamp: the build info.
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("8e4b7012edc0ffee", "true")}, "devel-8e4b7012edc0-dirty (2026-12-01T10:00:00Z) go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201100000-8e4b7012edc0"}, Settings: vcs("8e4b7012edc0ffee", "false")}, "v0.0.0-20261201100000-8e4b7012edc0 (2026-12-01T10:00:00Z) go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0 go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "devel (no commit recorded: build with make build"},
	} {
		if got := buildVersion(c.bi, true); !strings.HasPrefix(got, c.want) {
			t.Errorf("buildVersion(%+v) = %q, want %q", c.bi.Main, got, c.want)
		}
	}
}
