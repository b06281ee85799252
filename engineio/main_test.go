package engineio_test

import (
	"os"
	"testing"

	"github.com/lesismal/nbio/logging"
)

func TestMain(m *testing.M) {
	// nbio logs every engine start and stop to stdout; keep test output
	// readable.
	logging.SetLevel(logging.LevelNone)
	os.Exit(m.Run())
}
