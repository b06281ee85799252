package mqttgw

import "sync"

// executor runs the connections' packet handlers (conn.run): long-lived
// workers keep their grown stacks (a CONNECT's chat calls are deep); when
// all are busy (handlers waiting on the store) a task gets a goroutine of
// its own, so a slow handler never stalls others. An idle connection has
// no task and no goroutine.
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

// Close stops the workers (later tasks run on goroutines of their own).
func (e *executor) Close() {
	e.once.Do(func() { close(e.stop) })
	e.wg.Wait()
}
