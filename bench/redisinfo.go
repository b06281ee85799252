package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// redisMeter reads the CPU a Redis (every master of a Redis Cluster) used,
// from INFO: getrusage's figures, to the microsecond, where /proc's clock
// ticks (10 ms) are too coarse for a process that works a few milliseconds
// per second. It also keeps the time Redis spent executing each command
// (INFO commandstats; without reading and writing sockets).
type redisMeter struct {
	client rueidis.Client
}

// redisSample is one reading, summed over the nodes.
type redisSample struct {
	cpu   time.Duration      // used_cpu_sys + used_cpu_user
	calls map[string]float64 // command → calls
	usec  map[string]float64 // command → µs executing it
}

func newRedisMeter(ctx context.Context, url string) (*redisMeter, error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: --redis %q: %v", ErrUsage, url, err)
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("bench: --redis %s: %w", url, err)
	}
	m := &redisMeter{client: c}
	if _, err := m.sample(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return m, nil
}

func (m *redisMeter) close() { m.client.Close() }

// sample reads INFO cpu and commandstats on every node.
func (m *redisMeter) sample(ctx context.Context) (redisSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s := redisSample{calls: map[string]float64{}, usec: map[string]float64{}}
	nodes := map[string]rueidis.Client{"": m.client}
	if m.client.Mode() == rueidis.ClientModeCluster {
		nodes = m.client.Nodes()
	}
	for addr, c := range nodes {
		info, err := c.Do(ctx, c.B().Info().Section("cpu", "commandstats").Build()).ToString()
		if err != nil {
			return s, fmt.Errorf("bench: redis %s: INFO: %w", addr, err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			line = strings.TrimSpace(line)
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch {
			case k == "used_cpu_sys" || k == "used_cpu_user":
				f, err := strconv.ParseFloat(v, 64)
				if err == nil {
					s.cpu += time.Duration(f * float64(time.Second))
				}
			case strings.HasPrefix(k, "cmdstat_"):
				cmd := strings.TrimPrefix(k, "cmdstat_")
				for kv := range strings.SplitSeq(v, ",") {
					name, val, _ := strings.Cut(kv, "=")
					f, err := strconv.ParseFloat(val, 64)
					if err != nil {
						continue
					}
					switch name {
					case "calls":
						s.calls[cmd] += f
					case "usec":
						s.usec[cmd] += f
					}
				}
			}
		}
	}
	return s, nil
}

// addTo adds what Redis spent between two samples for msgs messages sent:
// its CPU per message, and the execution time per call of the commands
// that carry them and the roster's scripts.
func (a redisSample) addTo(m map[string]float64, b redisSample, wall time.Duration, msgs int64) {
	cpu := b.cpu - a.cpu
	m["redis_cpu"] = cpu.Seconds() / wall.Seconds()
	if msgs > 0 {
		m["redis_cpu_us_per_message"] = float64(cpu.Microseconds()) / float64(msgs)
	}
	for _, cmd := range []string{"publish", "spublish", "evalsha"} {
		if calls := b.calls[cmd] - a.calls[cmd]; calls > 0 {
			m["redis_"+cmd+"_s"] = calls / wall.Seconds()
			m["redis_"+cmd+"_us_per_call"] = (b.usec[cmd] - a.usec[cmd]) / calls
		}
	}
}
