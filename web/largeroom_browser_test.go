package web_test

import (
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// A room of 151 (above the large-room size, 120 here: Chromium opens at
// most 255 WebSockets): the page shows the count and the first page of
// members (100) with "Show more", pages the rest with the members command,
// follows the count from members events as 20 more join (no per-user
// presence in a large room), and lists everyone again when the room
// shrinks to half the size and is small again. The presence window is
// short: the first page of a join result may be that old, and the crowd
// joins just before Alice.
func TestChatLargeRoom(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil, func(c *app.Config) {
		c.LargeRoom, c.PresenceWindow = 120, time.Millisecond
	})
	testutil.RunBrowserScenario(t, url, "chat_large_room")
}
