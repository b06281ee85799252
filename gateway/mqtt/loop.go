package mqttgw

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// loop is the gateway's event loop: an nbio engine with one poller (epoll)
// that reads every plain connection, TCP and WebSocket alike, so that an
// idle client has no goroutine and no read buffer. Connections are handed
// to it already accepted (by Serve, or by net/http for /mqtt).
//
// What the poller reads is cut into packets on the poller goroutine
// (framer) and handled on the connection's serial executor (nbio's
// per-connection job list over a small worker pool): a connection's packets
// are handled one at a time, in order, and a handler may block (store
// appends) without stalling anyone else.
type loop struct {
	g        *Gateway
	exec     *executor
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	pollers  int

	mu      sync.Mutex
	started bool
	stopped bool
}

func newLoop(g *Gateway) *loop {
	l := &loop{g: g, exec: newExecutor(4 * runtime.GOMAXPROCS(0)), pollers: 1}
	l.engine = nbhttp.NewEngine(nbhttp.Config{
		Name:              "banter-mqtt",
		NPoller:           l.pollers,
		ServerExecutor:    l.exec.Go,
		SupportServerOnly: true, // no client executor pool
		// Bytes the kernel did not take are kept by nbio, bounded: past
		// it the connection is closed (a slow consumer).
		MaxWriteBufferSize:      g.cfg.MaxQueuedBytes,
		ReleaseWebsocketPayload: true,
		// The poller's one read buffer: what a read brings is cut into
		// packets at once, so it is never kept.
		ReadBufferSize: 64 << 10,
	})
	// A closed connection's teardown runs on its executor, after what it
	// had read was handled (nbhttp wraps this in MustExecute).
	l.engine.OnClose(func(nc net.Conn, err error) {
		if nbc, ok := nc.(*nbio.Conn); ok {
			if c, ok := nbc.Session().(*conn); ok {
				c.transportClosed(err)
			}
		}
	})
	u := websocket.NewUpgrader()
	u.Engine = l.engine
	u.KeepaliveTime = 0 // MQTT has its own keepalive
	u.MessageLengthLimit = g.cfg.MaxPacketBytes + g.cfg.MaxInputBytes
	u.CheckOrigin = func(*http.Request) bool { return true } // checked by Config.AllowRequest
	u.OnMessage(func(wsc *websocket.Conn, mt websocket.MessageType, data []byte) {
		if c, ok := wsc.Session().(*conn); ok {
			c.onWSMessage(mt, data)
		}
	})
	u.OnClose(func(wsc *websocket.Conn, err error) {
		if c, ok := wsc.Session().(*conn); ok {
			c.transportClosed(err)
		}
	})
	l.upgrader = u
	return l
}

// start starts the event loop with the first connection: nbio v1.6.12's
// Stop hangs when it runs before the pollers entered their loop (see
// engineio's wsEngine.start), and a gateway that never had a connection
// needs none.
func (l *loop) start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return ErrClosed
	}
	if !l.started {
		reserveProcs(l.pollers, l.g.log)
		if err := l.engine.Start(); err != nil {
			return fmt.Errorf("mqttgw: event loop: %w", err)
		}
		l.started = true
	}
	return nil
}

// stop stops the pollers (closing what is still open) and the executor.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopped = true
	started := l.started
	l.mu.Unlock()
	if started {
		l.engine.Stop()
	}
	l.exec.Close()
}

// add hands nbc (a plain TCP connection, or a WebSocket's) to the poller.
func (l *loop) add(nbc *nbio.Conn) error {
	if err := l.start(); err != nil {
		return err
	}
	_, err := l.engine.AddConn(nbc)
	return err
}

// takeConn moves a plain TCP connection to a non-blocking descriptor of
// its own for the event loop (nbio dups it and closes tcp).
//
// The duplicate must not leak into child processes: dup(2) clears
// close-on-exec, and a process started meanwhile (os/exec) would inherit
// the socket and keep it open for its whole life. Besides holding the
// client's connection open, that leaves the socket registered in the
// poller's epoll set after we close our descriptor (epoll forgets a socket
// only when its last descriptor is closed): the poller keeps reporting its
// hang-up under the old descriptor number, and closes whichever new
// connection reuses that number. Descriptors are created and marked
// close-on-exec under syscall.ForkLock, as the standard library does.
func takeConn(tcp *net.TCPConn) (*nbio.Conn, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nbc, err := nbio.NBConn(tcp)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(nbc.Hash())
	return nbc, nil
}

// reserveProcs makes room for the event loop's pollers in the scheduler,
// as engineio does for its own (engineio/websocket.go, reserveProcs): a
// poller waits in epoll_wait as an ordinary system call and keeps its P
// meanwhile, so with GOMAXPROCS=1 everything else would wait behind it.
// GOMAXPROCS is raised to one P per poller plus one, unless the GOMAXPROCS
// environment variable sets it.
func reserveProcs(pollers int, log *slog.Logger) {
	want := pollers + 1
	have := runtime.GOMAXPROCS(0)
	if have >= want || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(want)
	log.Info("GOMAXPROCS raised for the MQTT event loop", "from", have, "to", want)
}

// executor runs the connections' packet handlers: long-lived workers keep
// their grown stacks; when all are busy (handlers waiting on the store) a
// task gets a goroutine of its own, so a slow handler never stalls others.
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
