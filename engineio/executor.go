package engineio

import "sync"

// executor runs the WebSocket message handlers. A new goroutine per task
// would grow its stack again while decoding JSON (runtime.copystack was a
// quarter of the CPU of an acked echo with such a pool). Here long-lived
// workers keep their grown stacks; when all are busy (a
// handler blocked on the store, say) a task gets a goroutine of its own, so a
// slow handler never stalls the others.
type executor struct {
	tasks chan func()
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newExecutor(workers int) *executor {
	e := &executor{tasks: make(chan func()), stop: make(chan struct{})}
	e.wg.Add(workers)
	for range workers {
		go e.work()
	}
	return e
}

func (e *executor) work() {
	defer e.wg.Done()
	for {
		select {
		case f := <-e.tasks:
			f()
		case <-e.stop:
			return
		}
	}
}

// Go runs f on an idle worker, or on a new goroutine when none is idle.
func (e *executor) Go(f func()) {
	select {
	case e.tasks <- f:
	default:
		go f()
	}
}

// Close stops the workers (tasks given afterwards run on goroutines of their
// own) and waits for them.
func (e *executor) Close() {
	e.once.Do(func() { close(e.stop) })
	e.wg.Wait()
}
