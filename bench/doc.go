// Package bench is Banter's load generator and benchmark report: it drives a
// Socket.IO server (Banter, or the Node.js reference in bench/node) with the
// workload of package bench/workload and measures it from outside, reading
// the server's CPU and memory from /proc.
//
// Entry point: Main(ctx, args, stdout, stderr), the `banter bench` command
// (cmd/banter-bench until cmd/banter wires it). Subcommands:
//
//	serve   run the Banter workload server (prints "LISTENING port pid")
//	idle    open N connections, hold them, report server bytes per connection
//	fanout  N receivers, S senders at R msgs/s: deliveries/s, latency, CPU µs per delivery
//	echo    C clients in closed loop on an acked event: acks/s, RTT
//	churn   connect+disconnect at rate R: handshakes/s, server RSS back to baseline
//	report  turn result files (JSON lines) into docs/benchmarks.md and SVG plots
//
// Each scenario prints a human-readable table to stdout and one JSON line
// (a Result) as its last line; --out appends that line to a file. Large idle
// runs are spread over worker processes (the same binary re-executed), each
// under the 20,000-descriptor limit and on its own 127.0.0.x source address.
//
// Concurrency: Main runs one scenario at a time; a scenario owns all its
// goroutines and connections and ends them before it returns, also when ctx
// is cancelled.
package bench
