package chat_test

import (
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storetest"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store {
		s := chat.NewMemStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
