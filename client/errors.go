package client

import (
	"errors"
	"fmt"
)

// Reason says why a socket was disconnected; the values are those of the
// JavaScript client's "disconnect" event.
type Reason string

// Disconnect reasons.
const (
	// ReasonServerDisconnect: the server disconnected the socket on purpose
	// (socket.disconnect() on the server). Not reconnected automatically.
	ReasonServerDisconnect Reason = "io server disconnect"
	// ReasonClientDisconnect: Socket.Disconnect or Manager.Close. Not reconnected.
	ReasonClientDisconnect Reason = "io client disconnect"
	// ReasonPingTimeout: the server sent no ping for pingInterval+pingTimeout.
	ReasonPingTimeout Reason = "ping timeout"
	// ReasonTransportClose: the connection was closed (by the server, a proxy
	// or the network) without an error.
	ReasonTransportClose Reason = "transport close"
	// ReasonTransportError: reading or writing the connection failed.
	ReasonTransportError Reason = "transport error"
	// ReasonParseError: the server sent something that is not valid
	// Engine.IO or Socket.IO.
	ReasonParseError Reason = "parse error"
)

// Reconnects reports whether the manager reconnects after this reason.
func (r Reason) Reconnects() bool {
	return r != ReasonServerDisconnect && r != ReasonClientDisconnect
}

// Errors.
var (
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("socket.io client: closed")
	// ErrDisconnected: the connection dropped before an acknowledgement
	// arrived, or the socket is not active (Connect was not called, or it
	// was disconnected on purpose).
	ErrDisconnected = errors.New("socket.io client: disconnected")
	// ErrBufferFull: the socket is not connected and Config.MaxBufferedEmits
	// emits are already waiting.
	ErrBufferFull = errors.New("socket.io client: send buffer full")
	// ErrReservedEvent: the event name is reserved by Socket.IO ("connect",
	// "disconnect", ...).
	ErrReservedEvent = errors.New("socket.io client: reserved event name")
	// ErrHandshake: the server's answer to the Engine.IO handshake was not
	// understood (not an Engine.IO 4 server?).
	ErrHandshake = errors.New("socket.io client: handshake failed")
	// ErrReconnectFailed: Config.ReconnectAttempts attempts in a row failed;
	// the sockets are no longer active.
	ErrReconnectFailed = errors.New("socket.io client: reconnection failed")
	// ErrTransport wraps failures to reach the server.
	ErrTransport = errors.New("socket.io client: transport error")
	// ErrNoArg: Args.Bind asked for an argument that is not there.
	ErrNoArg = errors.New("socket.io client: no such argument")
)

// ConnectError is the server's refusal of a namespace connection (a
// CONNECT_ERROR packet), e.g. from an authentication middleware. The socket
// does not retry by itself.
type ConnectError struct {
	Message string
	Data    any // the error's data, as JSON-decoded values; nil when none
}

func (e *ConnectError) Error() string {
	if e.Data != nil {
		return fmt.Sprintf("socket.io client: connection refused: %s (%v)", e.Message, e.Data)
	}
	return "socket.io client: connection refused: " + e.Message
}

// disconnectError carries a disconnect reason through error values.
type disconnectError struct {
	reason Reason
	err    error
}

func (e *disconnectError) Error() string {
	if e.err != nil {
		return string(e.reason) + ": " + e.err.Error()
	}
	return string(e.reason)
}

func (e *disconnectError) Unwrap() error { return e.err }

func reasonOf(err error) Reason {
	var de *disconnectError
	if errors.As(err, &de) {
		return de.reason
	}
	return ReasonTransportError
}
