package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/banter-chat/banter/chat"
)

// The race between a caller whose context ends and a writer picking its
// request up is settled by the request's state: whoever moves it out of
// "queued" first decides, so an Append that returns a context error has
// certainly stored nothing, and a claimed request is always answered.
const (
	queued    = iota
	claimed   // a writer owns it; the caller waits for the result
	abandoned // the caller gave up; the writer skips it
)

// request is one Append travelling to a writer.
type request struct {
	draft chat.Draft
	state atomic.Int32
	done  chan result // buffered: the writer never blocks on it
}

// result answers a request.
type result struct {
	msg chat.Message
	err error
}

func newRequest(d chat.Draft) *request {
	return &request{draft: d, done: make(chan result, 1)}
}

// wait returns the writer's answer. If ctx ends while the request is still
// queued, it is abandoned (the writer will skip it) and the context error,
// prefixed with what (e.g. "sqlite: append"), is returned; once claimed,
// the transaction's outcome is the answer, however long ctx lives.
func (r *request) wait(ctx context.Context, what string) (chat.Message, error) {
	select {
	case res := <-r.done:
		return res.msg, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return chat.Message{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		res := <-r.done
		return res.msg, res.err
	}
}

// claim keeps, in place, the requests of batch whose callers still wait,
// and marks them as the writer's. Call it right before the transaction.
func claim(batch []*request) []*request {
	out := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(queued, claimed) {
			out = append(out, r)
		}
	}
	return out
}

// answer sends every claimed request its message, or err to all of them
// when the transaction failed (then nothing of the batch is stored).
func answer(batch []*request, msgs []chat.Message, err error) {
	for i, r := range batch {
		if err != nil {
			r.done <- result{err: err}
			continue
		}
		r.done <- result{msg: msgs[i]}
	}
}
