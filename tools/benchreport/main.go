// Command benchreport turns benchmark results (the JSON lines `banter bench`
// prints, gathered by scripts/bench.sh) into docs/benchmarks.md and its SVG
// plots. It is a tool of the repository, not part of the banter binary: the
// page's tables, the project's targets and their verdicts live here.
//
//	go run ./tools/benchreport --results bench/results/summary/results.jsonl \
//	    --out docs/benchmarks.md --plots bench/results/summary --notes bench/analysis.md
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/banter-chat/banter/bench"
)

var errUsage = errors.New("usage")

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "bench/results/latest.jsonl", "result files (JSON lines), comma-separated")
	out := fs.String("out", "docs/benchmarks.md", "the page to write")
	plots := fs.String("plots", "bench/results/summary", "directory for the SVG plots")
	plotsLink := fs.String("plots-link", "../bench/results/summary", "the plots directory as linked from the page")
	notes := fs.String("notes", "bench/analysis.md", "markdown appended to the page (causes and plans); missing: none")
	command := fs.String("command", "scripts/bench.sh", "the command that produced the results, shown on the page")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var rs []bench.Result
	for _, f := range strings.Split(*results, ",") {
		got, err := readResults(f)
		if err != nil {
			return err
		}
		rs = append(rs, got...)
	}
	if len(rs) == 0 {
		return fmt.Errorf("%w: no results in %s", errUsage, *results)
	}
	var extra []byte
	if *notes != "" {
		b, err := os.ReadFile(*notes)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		extra = b
	}
	if err := os.MkdirAll(*plots, 0o755); err != nil {
		return err
	}
	rep := newReport(rs)
	for name, c := range rep.charts() {
		f, err := os.Create(filepath.Join(*plots, name))
		if err != nil {
			return err
		}
		err = c.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	page := rep.markdown(machineInfo(ctx), *plotsLink, *command, string(extra))
	if err := os.WriteFile(*out, []byte(page), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and plots in %s from %d results\n", *out, *plots, len(rs))
	return nil
}

func readResults(path string) ([]bench.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []bench.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var r bench.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if r.Scenario == "" || r.Server == "" {
			return nil, fmt.Errorf("%s:%d: result without scenario or server", path, line)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}
