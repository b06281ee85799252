package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/engineio"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/banter-chat/banter/gateway/rest"
	"github.com/banter-chat/banter/gateway/tcp"
	"github.com/banter-chat/banter/gateway/ws"
	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
	"github.com/banter-chat/banter/guard"
	"github.com/banter-chat/banter/redis"
)

// Metrics (docs/operations.md, "Monitoring", lists them all).
//
// The lower layers know nothing of Prometheus: engineio, chat, the gateways
// and the redis bus keep plain atomic counters (one add per event, never
// per recipient of a broadcast) and expose snapshots (Stats). The App owns
// a registry (not the global one: tests run several Apps in one process)
// with one collector that reads those snapshots at scrape time, the Go
// runtime and process collectors, and two histograms fed directly: store
// latency (timedStore below) and bus lag (redis.Config.ObserveLag).

// metrics is an App's registry and the instruments it feeds itself.
type metrics struct {
	reg     *prometheus.Registry
	storeOp *prometheus.HistogramVec // by operation
	storeEr *prometheus.CounterVec   // by operation
	// The series of each operation, resolved once (no label lookup per
	// store call), indexed by storeOp.
	opTime  [numStoreOps]prometheus.Observer
	opErrs  [numStoreOps]prometheus.Counter
	busLag  prometheus.Histogram
	handler http.Handler
}

// storeOp is a Store method; storeOpNames are the operation label values.
type storeOp int

const (
	opAppend storeOp = iota
	opHistory
	opSince
	opLastSeq
	opRooms
	opDelete
	opMessageByID
	opEdit
	opReact
	opChanges
	opMark
	opRoomState
	opUnread
	opSeenBy
	opFile
	opFileChunk
	opSecret
	opSearch
	numStoreOps
)

var storeOpNames = [numStoreOps]string{"append", "history", "since", "last_seq", "rooms",
	"delete", "message_by_id", "edit", "react", "changes", "mark", "room_state", "unread", "seen_by",
	"file", "file_chunk", "secret", "search"}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		storeOp: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "banter_store_operation_duration_seconds",
			Help: "Time taken by calls to the message store, by operation (append includes waiting for the group commit).",
			// 50µs (an SQLite read) to 10s (a stalled database).
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"operation"}),
		storeEr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "banter_store_errors_total",
			Help: "Calls to the message store that failed for another reason than bad input or a cancelled request, by operation.",
		}, []string{"operation"}),
		busLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "banter_bus_lag_seconds",
			Help:    "Time from the publication of an event on another node to its reception here (cluster bus; depends on synchronized clocks).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	for op, name := range storeOpNames { // every series exists from the start
		m.opTime[op] = m.storeOp.WithLabelValues(name)
		m.opErrs[op] = m.storeEr.WithLabelValues(name)
	}
	reg.MustRegister(m.storeOp, m.storeEr,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeLag feeds the bus lag histogram (redis.Config.ObserveLag).
func (m *metrics) observeLag(d time.Duration) { m.busLag.Observe(d.Seconds()) }

// register adds what needs the App: the snapshot collector, and the bus
// lag histogram when there is a cluster bus.
func (m *metrics) register(a *App) {
	m.reg.MustRegister(&statsCollector{a: a})
	if a.be.bus != nil {
		m.reg.MustRegister(m.busLag)
	}
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          promLogger{a},
		Registry:          m.reg, // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	})
	m.handler = promhttp.InstrumentMetricHandler(m.reg, h)
}

// promLogger routes promhttp's errors to the App's logger.
type promLogger struct{ a *App }

func (l promLogger) Println(v ...any) {
	l.a.log.Warn("metrics: cannot serve a scrape", "err", fmt.Sprint(v...))
}

// timedStore is the chat.Store the Service uses: every call is timed into
// banter_store_operation_duration_seconds, failures are counted.
type timedStore struct {
	chat.Store
	m *metrics
}

func (s timedStore) observe(op storeOp, start time.Time, err error) {
	s.m.opTime[op].Observe(time.Since(start).Seconds())
	if err != nil && storeFailure(err) {
		s.m.opErrs[op].Inc()
	}
}

// storeFailure reports whether err is the store's fault: not bad input
// (the Store validates its arguments) and not the caller giving up. A
// deadline that passed is the store's fault: it was too slow.
func storeFailure(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch chat.ErrorCode(err) {
	case chat.CodeUnavailable, chat.CodeInternal: // CodeInternal: not a *chat.Error at all
		return true
	}
	return false
}

func (s timedStore) Append(ctx context.Context, d chat.Draft) (chat.Message, error) {
	start := time.Now()
	m, err := s.Store.Append(ctx, d)
	s.observe(opAppend, start, err)
	return m, err
}

func (s timedStore) History(ctx context.Context, room string, before int64, limit int) ([]chat.Message, error) {
	start := time.Now()
	msgs, err := s.Store.History(ctx, room, before, limit)
	s.observe(opHistory, start, err)
	return msgs, err
}

func (s timedStore) Since(ctx context.Context, room string, after int64, limit int) ([]chat.Message, error) {
	start := time.Now()
	msgs, err := s.Store.Since(ctx, room, after, limit)
	s.observe(opSince, start, err)
	return msgs, err
}

func (s timedStore) LastSeq(ctx context.Context, room string) (int64, error) {
	start := time.Now()
	seq, err := s.Store.LastSeq(ctx, room)
	s.observe(opLastSeq, start, err)
	return seq, err
}

func (s timedStore) Rooms(ctx context.Context) ([]chat.RoomInfo, error) {
	start := time.Now()
	rooms, err := s.Store.Rooms(ctx)
	s.observe(opRooms, start, err)
	return rooms, err
}

// timed times one store call of op.
func timed[T any](s timedStore, op storeOp, call func() (T, error)) (T, error) {
	start := time.Now()
	v, err := call()
	s.observe(op, start, err)
	return v, err
}

func (s timedStore) Delete(ctx context.Context, room string, seq int64) (chat.Message, error) {
	return timed(s, opDelete, func() (chat.Message, error) { return s.Store.Delete(ctx, room, seq) })
}

func (s timedStore) MessageByID(ctx context.Context, id string) (chat.Message, error) {
	return timed(s, opMessageByID, func() (chat.Message, error) { return s.Store.MessageByID(ctx, id) })
}

func (s timedStore) Edit(ctx context.Context, e chat.Edit) (chat.Message, error) {
	return timed(s, opEdit, func() (chat.Message, error) { return s.Store.Edit(ctx, e) })
}

func (s timedStore) React(ctx context.Context, c chat.ReactionChange) (chat.Message, bool, error) {
	start := time.Now()
	m, changed, err := s.Store.React(ctx, c)
	s.observe(opReact, start, err)
	return m, changed, err
}

func (s timedStore) Changes(ctx context.Context, room string, after int64, limit int) ([]chat.Message, error) {
	return timed(s, opChanges, func() ([]chat.Message, error) { return s.Store.Changes(ctx, room, after, limit) })
}

func (s timedStore) Mark(ctx context.Context, room, user, nickname string, read, delivered int64) (chat.ReadMark, bool, error) {
	start := time.Now()
	m, changed, err := s.Store.Mark(ctx, room, user, nickname, read, delivered)
	s.observe(opMark, start, err)
	return m, changed, err
}

func (s timedStore) RoomState(ctx context.Context, room, user string, readers int) (chat.RoomState, error) {
	return timed(s, opRoomState, func() (chat.RoomState, error) { return s.Store.RoomState(ctx, room, user, readers) })
}

func (s timedStore) Unread(ctx context.Context, user string, rooms []string) ([]chat.Unread, error) {
	return timed(s, opUnread, func() ([]chat.Unread, error) { return s.Store.Unread(ctx, user, rooms) })
}

func (s timedStore) SeenBy(ctx context.Context, room string, seq int64, limit int) (chat.Seen, error) {
	return timed(s, opSeenBy, func() (chat.Seen, error) { return s.Store.SeenBy(ctx, room, seq, limit) })
}

func (s timedStore) File(ctx context.Context, id string) (chat.StoredFile, error) {
	return timed(s, opFile, func() (chat.StoredFile, error) { return s.Store.File(ctx, id) })
}

func (s timedStore) FileChunk(ctx context.Context, id string, n int) ([]byte, error) {
	return timed(s, opFileChunk, func() ([]byte, error) { return s.Store.FileChunk(ctx, id, n) })
}

func (s timedStore) Secret(ctx context.Context) ([]byte, error) {
	return timed(s, opSecret, func() ([]byte, error) { return s.Store.Secret(ctx) })
}

func (s timedStore) Search(ctx context.Context, q chat.SearchQuery) ([]chat.Message, error) {
	return timed(s, opSearch, func() ([]chat.Message, error) { return s.Store.Search(ctx, q) })
}

// snapshot is every layer's Stats at one moment, read by the collector and
// the status page.
type snapshot struct {
	eio              engineio.Stats
	queued, largestQ int64
	chat             chat.Stats
	ws               ws.Stats
	tcp              tcp.Stats
	rest             rest.Stats
	mqtt             mqttgw.Stats
	xmpp             xmppgw.Stats
	bus              *redis.Stats // nil without a cluster bus
	guard            guard.Stats
}

func (a *App) snapshot() snapshot {
	s := snapshot{
		eio:   a.io.Engine().Stats(),
		chat:  a.svc.Stats(),
		ws:    a.gws.ws.Stats(),
		rest:  a.gws.rest.Stats(),
		mqtt:  a.mqtt.gw.Stats(),
		xmpp:  a.xmpp.gw.Stats(),
		guard: a.guard.Stats(),
	}
	s.queued, s.largestQ = a.io.Engine().Backlog()
	if a.gws.tcp != nil {
		s.tcp = a.gws.tcp.Stats()
	}
	if a.be.bus != nil {
		st := a.be.bus.Stats()
		s.bus = &st
	}
	return s
}

// connCount is one gateway and transport's connections.
type connCount struct {
	Gateway   string `json:"gateway"`
	Transport string `json:"transport"`
	Open      int64  `json:"open"`
	Opened    uint64 `json:"opened"`
}

// connections lists every gateway and transport, zeros included, so
// dashboards see stable series. REST counts sessions (HTTP itself is
// stateless); SSE counts open event streams.
func (s snapshot) connections() []connCount {
	return []connCount{
		{"socketio", "polling", s.eio.Polling.Open, s.eio.Polling.Handshakes},
		{"socketio", "websocket", s.eio.WebSocket.Open, s.eio.WebSocket.Handshakes},
		{"ws", "websocket", int64(s.ws.Connections), s.ws.Accepted},
		{"tcp", "tcp", int64(s.tcp.Connections), s.tcp.Accepted},
		{"mqtt", "tcp", int64(s.mqtt.TCP), s.mqtt.AcceptedTCP},
		{"mqtt", "websocket", int64(s.mqtt.WebSocket), s.mqtt.AcceptedWebSocket},
		{"xmpp", "tcp", int64(s.xmpp.TCP), s.xmpp.Accepted[0]},
		{"xmpp", "tls", int64(s.xmpp.TLS), s.xmpp.Accepted[1]},
		{"xmpp", "websocket", int64(s.xmpp.WebSocket), s.xmpp.Accepted[2]},
		{"sse", "http", s.rest.Streams, s.rest.StreamsOpened},
		{"rest", "http", int64(s.rest.Sessions), s.rest.SessionsCreated},
	}
}

// gatewayCount is a counter of one gateway.
type gatewayCount struct {
	gateway string
	n       uint64
}

// slowConsumers lists the slow-consumer disconnects by gateway.
func (s snapshot) slowConsumers() []gatewayCount {
	return []gatewayCount{
		{"socketio", s.eio.Closes[engineio.ReasonSlowConsumer]},
		{"ws", s.ws.SlowConsumers},
		{"tcp", s.tcp.SlowConsumers},
		{"mqtt", s.mqtt.SlowConsumers},
		{"xmpp", s.xmpp.SlowConsumers},
		{"sse", s.rest.SlowConsumers},
	}
}

// labelValue turns a reason or message ("transport close", "Session ID
// unknown") into a label value ("transport_close", "session_id_unknown").
func labelValue(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "_")
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descConnections = desc("banter_connections",
		"Client connections open now, by gateway and transport (rest: REST sessions; sse: open event streams).", "gateway", "transport")
	descConnectionsOpened = desc("banter_connections_opened_total",
		"Client connections opened (socketio: Engine.IO handshakes), by gateway and transport.", "gateway", "transport")
	descDisconnects = desc("banter_disconnects_total",
		"Socket.IO (Engine.IO) sessions ended, by close reason.", "gateway", "reason")
	descSlow = desc("banter_slow_consumer_disconnects_total",
		"Connections closed because their outgoing queue overflowed, by gateway.", "gateway")
	descUpgrades = desc("banter_engineio_upgrades_total",
		"Engine.IO sessions upgraded from long-polling to WebSocket.")
	descRefused = desc("banter_engineio_requests_refused_total",
		"Engine.IO requests answered with a protocol error, by error.", "error")
	descGuardRefused = desc("banter_connections_refused_total",
		"Connections and handshakes refused by the admission guard, all gateways, by reason (server_full, per_ip, rate, origin).", "reason")
	descPktsIn = desc("banter_engineio_packets_received_total",
		"Engine.IO packets received from clients, by transport.", "transport")
	descPktsOut = desc("banter_engineio_packets_sent_total",
		"Engine.IO packets written to clients, by transport.", "transport")
	descBytesIn = desc("banter_engineio_received_bytes_total",
		"Engine.IO payload bytes received (WebSocket frames, POST bodies), by transport.", "transport")
	descBytesOut = desc("banter_engineio_sent_bytes_total",
		"Bytes written to Engine.IO clients (WebSocket frames, polling responses), by transport.", "transport")
	descWrites = desc("banter_engineio_writes_total",
		"Writes to Engine.IO clients, by transport: WebSocket writes (each carries every packet queued for the connection, so packets sent ÷ writes is the coalescing under load) and polling responses.", "transport")
	descQueued = desc("banter_engineio_queued_bytes",
		"Bytes queued for Socket.IO clients and not yet written, summed over sessions.")
	descLargestQ = desc("banter_engineio_largest_queue_bytes",
		"The largest single session queue (a session past the configured bound is a slow consumer).")
	descSessions = desc("banter_chat_sessions",
		"Chat sessions (users online) on this node, all gateways.")
	descRooms = desc("banter_chat_rooms",
		"Rooms with members on this node.")
	descSessStarted = desc("banter_chat_sessions_started_total", "Chat sessions started.")
	descSessEnded   = desc("banter_chat_sessions_ended_total", "Chat sessions ended (disconnect, replacement, shutdown).")
	descStored      = desc("banter_chat_messages_stored_total",
		"Chat messages accepted and stored (messages in).")
	descDupes = desc("banter_chat_duplicate_messages_total",
		"Sends whose client message id had been seen: nothing stored, the original acknowledged.")
	descLimited = desc("banter_chat_rate_limited_total",
		"Messages and typing signals refused by the per-session rate limits.")
	descDeliveries = desc("banter_chat_deliveries_total",
		"Events handed to recipients (each recipient counts once), by kind: message deliveries are the messages out.", "kind")
	descGapFills = desc("banter_chat_gap_fills_total",
		"Reads of the store to fill a gap in a room's sequence (events reordered or lost on the bus).")
	descRefilled = desc("banter_chat_refilled_messages_total",
		"Messages delivered from the store by gap fills (not received from the bus).")
	descPubErrs = desc("banter_chat_bus_publish_errors_total",
		"Events the chat service could not publish on the bus.")
	descBusPub = desc("banter_bus_published_total",
		"Events published to the cluster bus (Redis).")
	descBusPubErrs = desc("banter_bus_publish_errors_total",
		"Publications to the cluster bus that failed.")
	descBusRecv = desc("banter_bus_received_total",
		"Events received from other nodes on the cluster bus.")
	descBusDropped = desc("banter_bus_dropped_total",
		"Cluster bus payloads that could not be decoded.")
	descBusReconn = desc("banter_bus_reconnects_total",
		"Times the cluster bus subscriber connection was lost and set up again.")
	descBusSubs = desc("banter_bus_subscriptions",
		"Cluster bus channels this node is subscribed to (one per room with members here, plus users and DMs).")
)

// statsCollector turns a snapshot into metrics at scrape time.
type statsCollector struct{ a *App }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConnections, descConnectionsOpened, descDisconnects, descSlow, descUpgrades, descRefused,
		descGuardRefused, descPktsIn, descPktsOut, descBytesIn, descBytesOut, descWrites, descQueued, descLargestQ,
		descSessions, descRooms, descSessStarted, descSessEnded, descStored, descDupes, descLimited,
		descDeliveries, descGapFills, descRefilled, descPubErrs,
	} {
		ch <- d
	}
	if c.a.be.bus != nil {
		for _, d := range []*prometheus.Desc{descBusPub, descBusPubErrs, descBusRecv, descBusDropped, descBusReconn, descBusSubs} {
			ch <- d
		}
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, cc := range s.connections() {
		gauge(descConnections, float64(cc.Open), cc.Gateway, cc.Transport)
		counter(descConnectionsOpened, cc.Opened, cc.Gateway, cc.Transport)
	}
	for _, r := range engineio.Reasons {
		counter(descDisconnects, s.eio.Closes[r], "socketio", labelValue(string(r)))
	}
	for _, sc := range s.slowConsumers() {
		counter(descSlow, sc.n, sc.gateway)
	}
	counter(descUpgrades, s.eio.Upgrades)
	counter(descGuardRefused, s.guard.ServerFull, "server_full")
	counter(descGuardRefused, s.guard.TooManyConns, "per_ip")
	counter(descGuardRefused, s.guard.TooFast, "rate")
	counter(descGuardRefused, s.guard.Origin, "origin")
	for _, code := range engineio.ErrorCodes {
		counter(descRefused, s.eio.Refused[code], labelValue(code.Error()))
	}
	for _, t := range []struct {
		name string
		st   engineio.TransportStats
	}{{"polling", s.eio.Polling}, {"websocket", s.eio.WebSocket}} {
		counter(descPktsIn, t.st.PacketsReceived, t.name)
		counter(descPktsOut, t.st.PacketsSent, t.name)
		counter(descBytesIn, t.st.BytesReceived, t.name)
		counter(descBytesOut, t.st.BytesSent, t.name)
		counter(descWrites, t.st.Writes, t.name)
	}
	gauge(descQueued, float64(s.queued))
	gauge(descLargestQ, float64(s.largestQ))

	gauge(descSessions, float64(s.chat.Sessions))
	gauge(descRooms, float64(s.chat.Rooms))
	counter(descSessStarted, s.chat.SessionsStarted)
	counter(descSessEnded, s.chat.SessionsEnded)
	counter(descStored, s.chat.MessagesStored)
	counter(descDupes, s.chat.Duplicates)
	counter(descLimited, s.chat.RateLimited)
	for _, k := range chat.DeliveryKinds {
		counter(descDeliveries, s.chat.Deliveries[k], k.String())
	}
	counter(descGapFills, s.chat.GapFills)
	counter(descRefilled, s.chat.Refilled)
	counter(descPubErrs, s.chat.PublishErrors)

	if b := s.bus; b != nil {
		counter(descBusPub, b.Published)
		counter(descBusPubErrs, b.PublishErrors)
		counter(descBusRecv, b.Received)
		counter(descBusDropped, b.Dropped)
		counter(descBusReconn, b.Reconnects)
		gauge(descBusSubs, float64(b.Subscriptions))
	}
}
