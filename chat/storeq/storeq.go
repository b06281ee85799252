// Package storeq is the request plumbing shared by the group-committing
// chat.Store implementations (sqlite, postgres): an Append becomes a
// Request handed to the store's writer, which batches requests into one
// transaction and answers each.
//
// The race between a caller whose context ends and the writer picking its
// request up is settled by the request's state: whoever moves it out of
// "queued" first decides, so an Append that returns a context error has
// certainly stored nothing, and a claimed request is always answered.
// Everything here is safe for concurrent use.
package storeq

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/banter-chat/banter/chat"
)

const (
	queued    = iota
	claimed   // a writer owns it; the caller waits for the result
	abandoned // the caller gave up; the writer skips it
)

// Request is one Append travelling to a writer.
type Request struct {
	Draft chat.Draft
	state atomic.Int32
	done  chan Result // buffered: the writer never blocks on it
}

// Result answers a Request.
type Result struct {
	Msg chat.Message
	Err error
}

// NewRequest returns a queued request for d.
func NewRequest(d chat.Draft) *Request {
	return &Request{Draft: d, done: make(chan Result, 1)}
}

// Wait returns the writer's answer. If ctx ends while the request is still
// queued, it is abandoned (the writer will skip it) and the context error,
// prefixed with what (e.g. "sqlite: append"), is returned; once claimed,
// the transaction's outcome is the answer, however long ctx lives.
func (r *Request) Wait(ctx context.Context, what string) (chat.Message, error) {
	select {
	case res := <-r.done:
		return res.Msg, res.Err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return chat.Message{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		res := <-r.done
		return res.Msg, res.Err
	}
}

// Claim keeps, in place, the requests of batch whose callers still wait,
// and marks them as the writer's. Call it right before the transaction.
func Claim(batch []*Request) []*Request {
	out := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(queued, claimed) {
			out = append(out, r)
		}
	}
	return out
}

// Answer sends every claimed request its result, or err to all of them when
// the transaction failed (then nothing of the batch is stored).
func Answer(batch []*Request, results []Result, err error) {
	for i, r := range batch {
		if err != nil {
			r.done <- Result{Err: err}
			continue
		}
		r.done <- results[i]
	}
}
