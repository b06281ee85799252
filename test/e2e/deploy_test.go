package e2e

import (
	"debug/elf"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/banter-chat/banter/internal/testutil"
)

// The container cannot run here (no Docker daemon), so this tests what it
// is made of: the binary built exactly as the Dockerfile builds it is
// static and serves the page, the client bundle and /healthz with the
// compose file's configuration, and every BANTER_* variable the compose
// file sets is a real setting.
func TestDeployArtifacts(t *testing.T) {
	root := testutil.RepoRoot(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	build := regexp.MustCompile(`RUN (CGO_ENABLED=0 go build [^\\\n]*)`).FindSubmatch(dockerfile)
	if build == nil {
		t.Fatal("Dockerfile: no `RUN CGO_ENABLED=0 go build` line")
	}
	bin := filepath.Join(t.TempDir(), "banter")
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(string(build[1]), "/out/banter", bin))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "VERSION=test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build[1], err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the Dockerfile's binary is dynamically linked: it cannot run in a static base image")
		}
	}
	f.Close()

	// The compose file's environment: every BANTER_* is a setting.
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	help, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatal(err)
	}
	nodes := 0
	for name, svc := range compose.Services {
		if !strings.HasPrefix(name, "banter") {
			continue
		}
		nodes++
		for k := range svc.Environment {
			if !strings.Contains(string(help), "env "+k) {
				t.Errorf("compose service %s sets %s, which is not a banter setting", name, k)
			}
		}
		if cfg := svc.Environment["BANTER_CONFIG"]; !strings.Contains(strings.Join(svc.Volumes, " "), "./banter.yaml:"+cfg) {
			t.Errorf("compose service %s: BANTER_CONFIG=%s is not the mounted deploy/banter.yaml", name, cfg)
		}
	}
	if nodes != 3 {
		t.Errorf("compose file has %d banter nodes, want 3", nodes)
	}

	// The image's binary with the shared configuration file serves.
	p := testutil.StartBinary(t, bin, "--config", filepath.Join(root, "deploy", "banter.yaml"), "--log-format", "text",
		"--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "b.db"))
	for path, want := range map[string]string{"/healthz": "ok", "/socket.io/socket.io.min.js": "io", "/": "<html"} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d (%d bytes)", path, resp.StatusCode, len(body))
		}
	}
}
