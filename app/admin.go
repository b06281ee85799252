package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/admin"
	"github.com/banter-chat/banter/socketio/admin/ui"
	"github.com/banter-chat/banter/socketio/redisadapter"
)

// The Socket.IO ecosystem around the product: the official Admin UI
// (Config.AdminUI) and, with --redis, the Socket.IO Redis adapter's
// channels, so that @socket.io/redis-emitter (or package socketio/emitter)
// reaches this node's sockets and the Admin UI sees every node.

// AdminUIPath is where the dashboard is served.
const AdminUIPath = "/admin-ui/"

// SocketIORedisKey is the channel prefix of the Socket.IO Redis adapter
// (the default of @socket.io/redis-adapter and @socket.io/redis-emitter).
const SocketIORedisKey = "socket.io"

// AdminUIConfig turns on the Socket.IO Admin UI: its server side on the
// namespace /admin and its dashboard at AdminUIPath.
type AdminUIConfig struct {
	Enabled bool
	// Username and PasswordHash (bcrypt, as the Node version expects) are
	// the dashboard's login.
	Username     string
	PasswordHash string
	// Production sends only statistics (no sockets, rooms or live events):
	// the Node version's mode "production".
	Production bool
	// ReadOnly offers no action (emit, join, leave, disconnect).
	ReadOnly bool
}

// ecosystem is the App's part of the above.
type ecosystem struct {
	cluster *redisadapter.Cluster // with Redis
	admin   *admin.Admin          // with the Admin UI
}

// socketIOAdapter makes a cluster node's Socket.IO namespaces use the
// Redis adapter (chat messages do not go through it: gateway/sio sends
// prepared packets, and its own broadcasts are Local).
func (a *App) socketIOAdapter(cfg *socketio.Config) {
	if a.be.bus == nil {
		return
	}
	key := a.cfg.SocketIOKey
	if key == "" {
		key = SocketIORedisKey
	}
	a.eco.cluster = redisadapter.New(a.be.bus.Client(), redisadapter.Config{Key: key, Logger: a.log})
	cfg.Adapter = a.eco.cluster.Adapter
}

// socketIORooms reports whether chat rooms are mirrored as Socket.IO rooms
// (gateway/sio, Config.SocketIORooms): when a tool can address them.
func (a *App) socketIORooms() bool { return a.be.bus != nil || a.cfg.AdminUI.Enabled }

// initAdmin instruments io for the Admin UI and mounts the dashboard.
func (a *App) initAdmin(io *socketio.Server) error {
	c := a.cfg.AdminUI
	if !c.Enabled {
		return nil
	}
	if c.Username == "" {
		c.Username = "admin"
	}
	acfg := admin.Config{
		Auth:       &admin.BasicAuth{Username: c.Username, PasswordHash: c.PasswordHash},
		Production: c.Production, ReadOnly: c.ReadOnly, Logger: a.log,
	}
	if a.be.bus != nil {
		host, _ := os.Hostname()
		acfg.ServerID = host + "#" + a.be.bus.NodeID() // nodes may share a host
		acfg.Store = admin.NewRedisStore(a.be.bus.Client(), "", 0)
	}
	adm, err := admin.Instrument(io, acfg)
	if err != nil {
		return fmt.Errorf("%w: admin UI: %w", ErrConfig, err)
	}
	a.eco.admin = adm
	if !ui.Available() {
		a.log.Warn("admin UI: the dashboard is not built into this binary (run scripts/bundle.sh, then rebuild); the /admin namespace works with a dashboard served elsewhere")
	}
	return nil
}

// AdminServerID is the name of this node on the Admin UI's Servers page
// ("" without --admin-ui).
func (a *App) AdminServerID() string {
	if a.eco.admin == nil {
		return ""
	}
	return a.eco.admin.ServerID()
}

// mountAdminUI serves the dashboard.
func (a *App) mountAdminUI() {
	if a.eco.admin == nil {
		return
	}
	h := ui.Handler(AdminUIPath)
	a.mux.Handle(AdminUIPath, h)
	a.mux.Handle(AdminUIPath[:len(AdminUIPath)-1], h)
	a.log.Info("admin UI: dashboard at "+AdminUIPath+", namespace /admin", "mode", map[bool]string{false: "development", true: "production"}[a.cfg.AdminUI.Production])
}

// waitSocketIOCluster waits until the Redis adapter's subscriptions are
// confirmed, so emitters reach this node once it serves.
func (a *App) waitSocketIOCluster() error {
	if a.eco.cluster == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.eco.cluster.Ready(ctx); err != nil {
		return fmt.Errorf("%w: socket.io adapter: %w", ErrCluster, err)
	}
	return nil
}

// closeEcosystem stops the instrumentation and the adapter (after the
// Socket.IO server's shutdown, before the bus that owns the Redis client).
func (a *App) closeEcosystem() {
	if a.eco.admin != nil {
		a.eco.admin.Close()
	}
	if a.eco.cluster != nil {
		_ = a.eco.cluster.Close()
	}
}
