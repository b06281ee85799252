package app

import (
	"embed"
	"encoding/json"
	"net/http"
	"runtime"
	rtmetrics "runtime/metrics"

	"github.com/banter-chat/banter/chat"
	"time"
)

// The operator's status page: /status (HTML), its /status.js and
// /status.css, and /status.json, the figures it polls every two seconds.
// Counts only: no message, nickname, room name or address. Served where
// /metrics is (Config.MetricsAddr, Config.DisableMetrics).

//go:embed status
var statusFiles embed.FS

// statusCSP: the page loads its own script and style and fetches
// /status.json, nothing else.
const statusCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// statusDoc is /status.json.
type statusDoc struct {
	Time              int64       `json:"time"` // server time, Unix ms
	UptimeSeconds     float64     `json:"uptimeSeconds"`
	Store             string      `json:"store"`          // sqlite or postgres
	Bus               string      `json:"bus"`            // local, redis or redis-cluster
	Node              string      `json:"node,omitempty"` // cluster node id
	Connections       []connCount `json:"connections"`
	ConnectionsOpen   int64       `json:"connectionsOpen"` // sum of connections[].open
	UsersOnline       int         `json:"usersOnline"`
	Rooms             int         `json:"rooms"`
	MessagesStored    uint64      `json:"messagesStored"`
	MessageDeliveries uint64      `json:"messageDeliveries"`
	SlowConsumers     uint64      `json:"slowConsumers"`
	QueuedBytes       int64       `json:"queuedBytes"`
	Goroutines        int         `json:"goroutines"`
	HeapBytes         uint64      `json:"heapBytes"`
}

func (a *App) statusDoc() statusDoc {
	s := a.snapshot()
	d := statusDoc{
		Time:              time.Now().UnixMilli(),
		UptimeSeconds:     time.Since(a.started).Seconds(),
		Store:             "sqlite",
		Bus:               "local",
		Connections:       s.connections(),
		UsersOnline:       s.chat.Sessions,
		Rooms:             s.chat.Rooms,
		MessagesStored:    s.chat.MessagesStored,
		MessageDeliveries: s.chat.Deliveries[chat.EventMessage],
		QueuedBytes:       s.queued,
		Goroutines:        runtime.NumGoroutine(),
		HeapBytes:         heapBytes(),
	}
	if a.cfg.StoreURL != "" {
		d.Store = "postgres"
	}
	if a.be.bus != nil {
		d.Bus, d.Node = "redis", a.be.bus.NodeID()
		if a.be.bus.Sharded() {
			d.Bus = "redis-cluster"
		}
	}
	for _, c := range d.Connections {
		d.ConnectionsOpen += c.Open
	}
	for _, sc := range s.slowConsumers() {
		d.SlowConsumers += sc.n
	}
	return d
}

// heapBytes reads the live heap from runtime/metrics (no stop-the-world,
// unlike runtime.ReadMemStats).
func heapBytes() uint64 {
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(sample)
	if sample[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

func (a *App) statusJSON(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(a.statusDoc())
	if err != nil {
		http.Error(w, "cannot encode the status", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// statusAsset serves one embedded file of the page.
func statusAsset(name, ctype string) http.HandlerFunc {
	data, err := statusFiles.ReadFile("status/" + name)
	if err != nil {
		panic("app: embedded status page file missing: " + err.Error())
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", statusCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(data)
	}
}
