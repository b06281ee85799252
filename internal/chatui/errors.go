package chatui

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/client/chatclient"
)

// Describe turns an error of the client into a sentence for the user: what
// happened and, when there is something to do, what to do. It never shows
// Go values (maps, wrapped internals); the server's own message is shown
// sanitized for the terminal.
func Describe(err error) string {
	var ce *chatclient.Error
	var re *client.ConnectError
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return describeCode(ce.Code, ce.Message)
	case errors.As(err, &re):
		code, msg := connectErrorData(re)
		return "the server refused the connection: " + describeCode(code, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return "the server did not answer in time"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening at that address: start the server (banter serve) or check --url"
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot find the host %q: check --url", dns.Name)
	case errors.As(err, &unknownCA), errors.As(err, &hostname):
		return "the server's TLS certificate is not trusted by this machine (" + chat.PrintableLine(err.Error()) + ")"
	case errors.Is(err, chatclient.ErrReplaced):
		return "another connection took this session over"
	case errors.Is(err, chatclient.ErrClosed), errors.Is(err, client.ErrClosed):
		return "the connection is closed"
	case errors.Is(err, client.ErrDisconnected):
		return "disconnected from the server before it answered; it will be retried after reconnecting"
	}
	msg := err.Error()
	for _, p := range []string{"socket.io client: ", "chat: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return chat.PrintableLine(msg)
}

// describeCode explains a protocol error code with the server's message.
func describeCode(code, msg string) string {
	msg = chat.PrintableLine(strings.TrimSpace(msg))
	hint := map[string]string{
		"nickname_taken":    "choose another nickname",
		"invalid_nickname":  "choose another nickname",
		"unauthenticated":   "this server requires a token: pass --token (or set BANTER_TOKEN)",
		"token_expired":     "get a new token",
		"token_invalid":     "get a new token from the server's operator (banter token makes test tokens)",
		"rate_limited":      "you are sending too fast: wait a second and send again",
		"message_too_large": "shorten the message or split it",
		"not_member":        "join the room first (/join ROOM)",
		"too_many_rooms":    "leave a room first (/leave ROOM)",
		"unavailable":       "the server cannot store messages right now: try again later",
		"internal":          "the server failed: try again, and tell its operator if it lasts",
	}[code]
	switch {
	case msg == "" && hint == "":
		return strings.ReplaceAll(code, "_", " ")
	case msg == "":
		return hint
	case hint == "":
		return msg
	}
	return msg + ": " + hint
}

// connectErrorData reads {code, message} from a refused Socket.IO CONNECT.
func connectErrorData(e *client.ConnectError) (code, msg string) {
	msg = e.Message
	if m, ok := e.Data.(map[string]any); ok {
		if c, ok := m["code"].(string); ok {
			code = c
		}
		if s, ok := m["message"].(string); ok && s != "" {
			msg = s
		}
	}
	return code, msg
}
