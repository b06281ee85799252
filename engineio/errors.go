package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Reason says why a session closed. The values are the strings Node's
// engine.io reports, so logs and metrics read the same on both servers.
type Reason string

// Close reasons.
const (
	ReasonTransportClose   Reason = "transport close" // the client closed the connection or sent a close packet
	ReasonTransportError   Reason = "transport error" // a read or write failed, or the client broke the protocol
	ReasonPingTimeout      Reason = "ping timeout"    // no heartbeat within pingInterval + pingTimeout
	ReasonForcedClose      Reason = "forced close"    // the application closed the session
	ReasonServerShutdown   Reason = "server shutting down"
	ReasonParseError       Reason = "parse error"       // an invalid packet was received
	ReasonPayloadTooLarge  Reason = "payload too large" // a message exceeded MaxPayload
	ReasonSlowConsumer     Reason = "slow consumer"     // the outgoing queue exceeded MaxBufferedBytes
	ReasonUpgradeTimeout   Reason = "upgrade timeout"   // only closes the probing transport, not the session
	ReasonOverlappingPolls Reason = "overlap from client"
)

// ErrorCode is an Engine.IO handshake/request error code, as sent to clients
// in the JSON body of a failed request.
type ErrorCode int

// Error codes of the Engine.IO protocol (same numbers and messages as Node).
const (
	ErrUnknownTransport ErrorCode = iota
	ErrUnknownSID
	ErrBadHandshakeMethod
	ErrBadRequest
	ErrForbidden
	ErrUnsupportedProtocolVersion
)

var errorMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

func (c ErrorCode) Error() string {
	if int(c) >= 0 && int(c) < len(errorMessages) {
		return errorMessages[c]
	}
	return "Unknown error"
}

// RequestError is returned by an AllowRequest hook to refuse a request with
// a message of its own (code ErrForbidden, HTTP 403).
type RequestError struct {
	Message string
	// Status is the HTTP status of the refusal (e.g. 429, 503); 0 means
	// 403. The body is Node's {code: 4 (Forbidden), message} either way.
	Status int
}

func (e *RequestError) Error() string { return e.Message }

// ErrClosed is returned by Send on a closed session.
var ErrClosed = errors.New("engine.io: session closed")

// writeError answers a failed request the way Node's engine.io does:
// status 400 (403 for Forbidden) and a JSON body {code, message}.
func writeError(w http.ResponseWriter, code ErrorCode, message string) {
	writeErrorStatus(w, code, 0, message)
}

func writeErrorStatus(w http.ResponseWriter, code ErrorCode, status int, message string) {
	if status == 0 {
		status = http.StatusBadRequest
		if code == ErrForbidden {
			status = http.StatusForbidden
		}
	}
	if message == "" {
		message = code.Error()
	}
	body, _ := json.Marshal(struct {
		Code    ErrorCode `json:"code"`
		Message string    `json:"message"`
	}{code, message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
