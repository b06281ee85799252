package socketio_test

import (
	"os"
	"testing"

	"github.com/lesismal/nbio/logging"
)

func TestMain(m *testing.M) {
	// nbio logs every engine start and stop; keep test output readable.
	logging.SetLevel(logging.LevelNone)
	os.Exit(m.Run())
}
