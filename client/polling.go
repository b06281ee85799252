package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	eio "github.com/banter-chat/banter/engineio/parser"
)

// polling is the HTTP long-polling transport: one GET pending at a time for
// server → client packets, one POST at a time (the engine's writer) for the
// other way.
type polling struct {
	e   *engine
	sid string

	mu       sync.Mutex
	pausing  bool
	pausedCh chan struct{} // closed by run when it has stopped polling
	resumeCh chan bool     // true: poll again; false: retired by the upgrade
}

func (p *polling) name() string { return "polling" }

// openPolling performs the handshake over polling.
func openPolling(ctx context.Context, e *engine) (*polling, []eio.Packet, error) {
	pkts, err := pollGet(ctx, e, e.url("polling", ""))
	if err != nil {
		return nil, nil, err
	}
	hs, err := parseHandshake(pkts[0])
	if err != nil {
		return nil, nil, err
	}
	return &polling{e: e, sid: hs.SID, resumeCh: make(chan bool, 1)}, pkts, nil
}

func pollGet(ctx context.Context, e *engine, u string) ([]eio.Packet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	req.Header = e.header()
	res, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &disconnectError{reason: ReasonTransportError, err: fmt.Errorf("%w: %w", ErrTransport, err)}
	}
	defer res.Body.Close()
	// A payload is bounded by the server's maxPayload; allow some slack for
	// the framing before calling it garbage.
	body, err := io.ReadAll(io.LimitReader(res.Body, int64(e.maxRead())))
	if err != nil {
		return nil, &disconnectError{reason: ReasonTransportError, err: fmt.Errorf("%w: %w", ErrTransport, err)}
	}
	if res.StatusCode != http.StatusOK {
		return nil, &disconnectError{reason: ReasonTransportError,
			err: fmt.Errorf("%w: GET %s: %s: %s", ErrTransport, req.URL.Path, res.Status, bytes.TrimSpace(body))}
	}
	pkts, err := eio.DecodePayloadV4(body)
	if err != nil {
		return nil, &disconnectError{reason: ReasonParseError, err: err}
	}
	return pkts, nil
}

func (e *engine) maxRead() int {
	if e.hs.MaxPayload > 0 {
		return 2*e.hs.MaxPayload + 1024
	}
	return maxWebSocketRead
}

func (p *polling) run(ctx context.Context, deliver func([]eio.Packet) error) error {
	for {
		p.mu.Lock()
		if p.pausing {
			ch := p.pausedCh
			p.mu.Unlock()
			close(ch)
			select {
			case more := <-p.resumeCh:
				if !more {
					return errTransportReplaced
				}
				p.mu.Lock()
				p.pausing = false
				p.mu.Unlock()
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.mu.Unlock()
		pkts, err := pollGet(ctx, p.e, p.e.url("polling", p.sid))
		if err != nil {
			return err
		}
		if err := deliver(pkts); err != nil {
			return err
		}
	}
}

// pause asks run to stop after the GET in flight and waits until it has.
func (p *polling) pause(ctx context.Context) error {
	p.mu.Lock()
	p.pausing = true
	ch := make(chan struct{})
	p.pausedCh = ch
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *polling) unpause() { p.resumeCh <- true }
func (p *polling) retire()  { p.resumeCh <- false }

func (p *polling) write(ctx context.Context, pkts []eio.Packet) error {
	body := eio.AppendPayloadV4(nil, pkts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.e.url("polling", p.sid), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTransport, err)
	}
	req.Header = p.e.header()
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	res, err := p.e.cfg.HTTPClient.Do(req)
	if err != nil {
		return &disconnectError{reason: ReasonTransportError, err: fmt.Errorf("%w: %w", ErrTransport, err)}
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK {
		return &disconnectError{reason: ReasonTransportError,
			err: fmt.Errorf("%w: POST %s: %s: %s", ErrTransport, req.URL.Path, res.Status, bytes.TrimSpace(msg))}
	}
	return nil
}

// close: requests use the engine's context, which is cancelled first.
func (p *polling) close() {}
