package siogw

import "github.com/banter-chat/banter/chat"

// plainText is a message as the compatibility dialects show it: they know
// text only, so a file appears as "[file NAME]" after the caption (a
// file-only message would otherwise be an empty line).
func plainText(m *chat.Message) string {
	if m.Attachment == nil {
		return m.Text
	}
	if m.Text == "" {
		return "[file " + m.Attachment.Name + "]"
	}
	return m.Text + " [file " + m.Attachment.Name + "]"
}
