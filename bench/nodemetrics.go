package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What the cluster scenario reads from each banter node's /metrics
// (docs/operations.md, "Monitoring"): the counters and histograms that tell
// where a message's time goes between its send and its delivery on another
// node.

// nodeMetrics is one scrape of one node, or a difference or sum of them.
type nodeMetrics struct {
	counters map[string]float64 // name → value
	hists    map[string]promHist
}

// promHist is a Prometheus histogram: cumulative counts per upper bound.
type promHist struct {
	bounds []float64 // ascending upper bounds, +Inf excluded
	cum    []float64 // cumulative count at each bound
	count  float64
	sum    float64
}

// The series read: counters by metric name, histograms by a short name.
var (
	scrapedCounters = []string{
		"banter_chat_messages_stored_total", "banter_chat_gap_fills_total", "banter_chat_refilled_messages_total",
		"banter_bus_published_total", "banter_bus_received_total", "banter_bus_publish_errors_total",
	}
	scrapedHists = map[string]struct{ name, label, value string }{
		"append":  {"banter_store_operation_duration_seconds", "operation", "append"},
		"bus_lag": {"banter_bus_lag_seconds", "", ""},
	}
)

// scrapeNodes reads the metrics of every node (host:port, /metrics on the
// main listener: banter's default).
func scrapeNodes(ctx context.Context, addrs []string) ([]nodeMetrics, error) {
	out := make([]nodeMetrics, len(addrs))
	for i, a := range addrs {
		m, err := scrapeNode(ctx, "http://"+a+"/metrics")
		if err != nil {
			return nil, fmt.Errorf("bench: node %s: %w (run the nodes with metrics on their main port, or pass --metrics=false)", a, err)
		}
		out[i] = m
	}
	return out, nil
}

func scrapeNode(ctx context.Context, url string) (nodeMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nodeMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nodeMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeMetrics{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nodeMetrics{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return parseNodeMetrics(fams), nil
}

// parseNodeMetrics picks the series the scenario reads; a node without
// them (no cluster bus: no lag histogram) leaves them at zero.
func parseNodeMetrics(fams map[string]*dto.MetricFamily) nodeMetrics {
	m := nodeMetrics{counters: map[string]float64{}, hists: map[string]promHist{}}
	for _, name := range scrapedCounters {
		if f := fams[name]; f != nil {
			for _, s := range f.GetMetric() {
				m.counters[name] += s.GetCounter().GetValue()
			}
		}
	}
	for short, want := range scrapedHists {
		f := fams[want.name]
		if f == nil {
			continue
		}
		for _, s := range f.GetMetric() {
			if want.label != "" && !hasLabel(s, want.label, want.value) {
				continue
			}
			h := s.GetHistogram()
			var ph promHist
			for _, b := range h.GetBucket() {
				if math.IsInf(b.GetUpperBound(), 1) {
					continue
				}
				ph.bounds = append(ph.bounds, b.GetUpperBound())
				ph.cum = append(ph.cum, float64(b.GetCumulativeCount()))
			}
			ph.count, ph.sum = float64(h.GetSampleCount()), h.GetSampleSum()
			m.hists[short] = ph
		}
	}
	return m
}

func hasLabel(s *dto.Metric, name, value string) bool {
	for _, l := range s.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// sumNodeMetrics returns the sum over the nodes of after − before.
func sumNodeMetrics(before, after []nodeMetrics) nodeMetrics {
	d := nodeMetrics{counters: map[string]float64{}, hists: map[string]promHist{}}
	for i := range after {
		for k, v := range after[i].counters {
			d.counters[k] += v - before[i].counters[k]
		}
		for k, a := range after[i].hists {
			d.hists[k] = d.hists[k].add(a.sub(before[i].hists[k]))
		}
	}
	return d
}

// sub returns h − o (o scraped earlier from the same series; empty: h).
func (h promHist) sub(o promHist) promHist {
	out := promHist{bounds: h.bounds, cum: make([]float64, len(h.cum)), count: h.count - o.count, sum: h.sum - o.sum}
	for i := range h.cum {
		out.cum[i] = h.cum[i]
		if i < len(o.cum) {
			out.cum[i] -= o.cum[i]
		}
	}
	return out
}

// add returns h + o (the same buckets, or h empty).
func (h promHist) add(o promHist) promHist {
	if len(h.bounds) == 0 {
		return o
	}
	out := promHist{bounds: h.bounds, cum: make([]float64, len(h.cum)), count: h.count + o.count, sum: h.sum + o.sum}
	for i := range h.cum {
		out.cum[i] = h.cum[i]
		if i < len(o.cum) {
			out.cum[i] += o.cum[i]
		}
	}
	return out
}

// quantile estimates the q-quantile (seconds) as Prometheus's
// histogram_quantile does: linear within the bucket that holds it. NaN
// when empty; the largest bound when it lies in the +Inf bucket.
func (h promHist) quantile(q float64) float64 {
	if h.count <= 0 || len(h.bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	i := sort.Search(len(h.cum), func(i int) bool { return h.cum[i] >= rank })
	if i == len(h.cum) {
		return h.bounds[len(h.bounds)-1]
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = h.bounds[i-1], h.cum[i-1]
	}
	in := h.cum[i] - below
	if in <= 0 {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-below)/in
}

// addTo adds the window's figures to a result: store appends per second
// and the append latency (which includes waiting for the group commit),
// the bus lag between nodes, gap fills (events reordered or lost on the
// bus, read back from the store), bus publications and receptions.
func (d nodeMetrics) addTo(m map[string]float64, wall time.Duration) {
	s := wall.Seconds()
	m["store_appends_s"] = d.counters["banter_chat_messages_stored_total"] / s
	m["gap_fills"] = d.counters["banter_chat_gap_fills_total"]
	m["refilled"] = d.counters["banter_chat_refilled_messages_total"]
	if v := d.counters["banter_bus_published_total"]; v > 0 {
		m["bus_published_s"] = v / s
		m["bus_received_s"] = d.counters["banter_bus_received_total"] / s
		m["bus_publish_errors"] = d.counters["banter_bus_publish_errors_total"]
	}
	for short, h := range d.hists {
		if h.count <= 0 {
			continue
		}
		m[short+"_mean_ms"] = 1000 * h.sum / h.count
		m[short+"_p50_ms"] = 1000 * h.quantile(0.5)
		m[short+"_p99_ms"] = 1000 * h.quantile(0.99)
	}
}
