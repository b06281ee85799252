// Command banter-bench is the load generator and benchmark report of Banter
// (package bench) until `banter bench` is wired into cmd/banter.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/banter-chat/banter/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "banter-bench:", err)
		if errors.Is(err, bench.ErrUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
