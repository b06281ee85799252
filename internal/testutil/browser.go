package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ChromiumPath is where Debian's chromium package (installed by
// scripts/deps.sh) puts the browser the rig drives; BANTER_CHROMIUM overrides
// it.
const ChromiumPath = "/usr/bin/chromium"

// BrowserRunTimeout bounds one rig run, browser start included.
const BrowserRunTimeout = 3 * time.Minute

// BrowserScenario is a scripted interaction for test/browser/browser_rig.js;
// see that file for the meaning of each action.
type BrowserScenario struct {
	Pages     int           `json:"pages,omitempty"`     // default 2
	TimeoutMS int           `json:"timeoutMs,omitempty"` // whole run; default 60000
	Steps     []BrowserStep `json:"steps"`
}

// BrowserStep is one action on one page.
type BrowserStep struct {
	Page      int    `json:"page"`
	Action    string `json:"action"` // goto, click, fill, press, waitSelector, waitText, eval, screenshot
	Selector  string `json:"selector,omitempty"`
	Value     string `json:"value,omitempty"`
	Expect    any    `json:"expect,omitempty"` // eval: JSON value to wait for
	Save      string `json:"save,omitempty"`   // eval: key in BrowserResult.Results
	TimeoutMS int    `json:"timeoutMs,omitempty"`
}

// BrowserResult is the rig's JSON report.
type BrowserResult struct {
	OK          bool           `json:"ok"`
	Steps       int            `json:"steps"`
	Results     map[string]any `json:"results"`
	Console     []string       `json:"console"`
	Error       string         `json:"error"`
	Step        int            `json:"step"`
	Screenshots []string       `json:"screenshots"`
}

// ErrBrowserScenario is wrapped by RunBrowser's error when the rig ran and
// reported a failed scenario (as opposed to not running at all).
var ErrBrowserScenario = errors.New("browser scenario failed")

// RunBrowserScenario runs the browser rig on url with a scenario (a JSON file
// path, or a name under test/browser/scenarios) and fails the test unless it
// succeeds. On failure the screenshots' directory is kept and its path logged.
func RunBrowserScenario(t testing.TB, url, scenario string) BrowserResult {
	t.Helper()
	res, err := RunBrowser(t, url, scenario)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunBrowserSteps is RunBrowserScenario for a scenario built in Go.
func RunBrowserSteps(t testing.TB, url string, sc BrowserScenario) BrowserResult {
	t.Helper()
	return RunBrowserScenario(t, url, WriteScenario(t, sc))
}

// WriteScenario saves sc as JSON in a temporary file and returns its path.
func WriteScenario(t testing.TB, sc BrowserScenario) string {
	t.Helper()
	data, err := json.Marshal(sc)
	if err != nil {
		t.Fatalf("testutil.WriteScenario: %v", err)
	}
	file := filepath.Join(t.TempDir(), "scenario.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatalf("testutil.WriteScenario: %v", err)
	}
	return file
}

// RunBrowser runs the rig and returns its report; the error wraps
// ErrBrowserScenario when the scenario itself failed. It skips the test only
// when node is missing and fails it when Chromium is missing. Screenshots go to
// a fresh temporary directory that is removed on success and kept (its path in
// the error) on failure.
func RunBrowser(t testing.TB, url, scenario string) (BrowserResult, error) {
	t.Helper()
	RequireNode(t)
	chromium := ChromiumPath
	if p := os.Getenv("BANTER_CHROMIUM"); p != "" {
		chromium = p
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("headless Chromium not found (%v): run scripts/deps.sh (it installs Debian's chromium)", err)
	}
	shots, err := os.MkdirTemp("", "banter-browser-")
	if err != nil {
		t.Fatalf("testutil.RunBrowser: %v", err)
	}
	rig := filepath.Join(RepoRoot(t), "test", "browser", "browser_rig.js")
	ctx, cancel := context.WithTimeout(context.Background(), BrowserRunTimeout)
	defer cancel()
	out, runErr := RunNode(t, ctx, rig, url, scenario, "--screenshots", shots)

	var res BrowserResult
	last := lastLine(out)
	if jsonErr := json.Unmarshal([]byte(last), &res); jsonErr != nil {
		return res, fmt.Errorf("browser rig printed no report (%v); screenshots (if any) in %s: %w", jsonErr, shots, errors.Join(runErr, jsonErr))
	}
	if runErr == nil && res.OK {
		os.RemoveAll(shots)
		return res, nil
	}
	var console string
	if len(res.Console) > 0 {
		console = "\nbrowser console:\n  " + strings.Join(res.Console, "\n  ")
	}
	return res, fmt.Errorf("%w at step %d: %s\nscreenshots: %s (%s)%s\n(rig: %v)",
		ErrBrowserScenario, res.Step, res.Error, shots, strings.Join(res.Screenshots, ", "), console, runErr)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
