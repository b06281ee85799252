package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

const modulePath = "github.com/banter-chat/banter"

// RepoRoot returns the absolute path of the repository root: the nearest
// directory at or above the working directory whose go.mod declares the Banter
// module. go test runs each package in its own directory, so this works from
// any package.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testutil.RepoRoot: %v", err)
	}
	root, ok := findRepoRoot(dir)
	if !ok {
		t.Fatalf("testutil.RepoRoot: no go.mod for module %s at or above %s", modulePath, dir)
	}
	return root
}

func findRepoRoot(dir string) (string, bool) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(data, modulePath) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func declaresModule(goMod []byte, module string) bool {
	for line := range bytes.Lines(goMod) {
		fields := bytes.Fields(line)
		if len(fields) == 2 && string(fields[0]) == "module" && string(fields[1]) == module {
			return true
		}
	}
	return false
}

// NodeModules returns the path of the repository's node_modules directory, or
// fails the test with instructions when the npm packages are not installed.
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "node_modules")
	// A directory without the packages we need (an interrupted npm ci) is as
	// good as none: check one that every rig uses.
	if _, err := os.Stat(filepath.Join(dir, "socket.io-client", "package.json")); err != nil {
		t.Fatalf("npm packages missing (%v): run scripts/deps.sh (it runs npm ci at the repository root)", err)
	}
	return dir
}
