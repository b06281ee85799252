// Package bench is Banter's load generator: it drives a Socket.IO server
// (Banter's engine serving the benchmark workload of package
// bench/workload, the shipped banter, or the Node.js reference in
// bench/node) and measures it from outside, reading the server's CPU,
// memory and write system calls from /proc.
//
// Entry point: Main(ctx, args, stdout, stderr), the `banter bench` command.
// Subcommands:
//
//	serve      run the engine with the workload (prints "LISTENING port pid")
//	idle       open N connections, hold them, report server bytes per connection
//	fanout     N receivers, S senders at R msgs/s on independent schedules
//	           (--shape) speaking the workload or banter's protocol 1
//	           (--dialect): deliveries/s, latency, CPU and writes per delivery
//	echo       C clients in closed loop on an acked event: acks/s, RTT
//	churn      connect+disconnect at rate R: handshakes/s, server RSS back to baseline
//	joinstorm  N chat users say hello into one room at once: time, presence cost
//	floor-serve, floor  the platform floor (one writer, N plain TCP connections)
//
// Each scenario prints a human-readable table to stdout and one JSON line
// (a Result) as its last line; --out appends that line to a file.
// tools/benchreport turns such lines into docs/benchmarks.md. Large idle
// runs are spread over worker processes (the same binary re-executed), each
// under the 20,000-descriptor limit and on its own 127.0.0.x source address.
//
// Concurrency: Main runs one scenario at a time; a scenario owns all its
// goroutines and connections and ends them before it returns, also when ctx
// is cancelled.
package bench
