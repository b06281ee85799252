// Package testutil holds the helpers shared by Banter's tests: polling for a
// condition (Eventually), serving a handler on a random loopback port
// (StartHTTP), detecting leaked goroutines (CheckGoroutineLeaks), locating the
// repository and its node_modules (RepoRoot, NodeModules), running Node.js
// scripts (RunNode, StartNode) and driving headless Chromium through the
// Playwright rig in test/browser (RunBrowserScenario).
//
// Concurrency: every helper takes the test's testing.TB and must be called from
// the test goroutine (they may call t.Fatal). Whatever a helper starts (servers,
// processes) is stopped by t.Cleanup, so tests need no teardown code.
//
// Only test code imports this package.
package testutil
