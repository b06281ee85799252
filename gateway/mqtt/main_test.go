package mqttgw_test

import (
	"os"
	"testing"

	"github.com/lesismal/nbio/logging"
)

// nbio logs its engine's start and stop to stdout through a package-level
// logger (the app routes it to its own logger via engineio): silent here.
func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelNone)
	os.Exit(m.Run())
}
