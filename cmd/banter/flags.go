package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
)

// parseFlags parses args into set for the command cmd ("banter",
// "banter chat"…). -h and --help print usage to stdout (errHelp); a
// mistake returns a usageError of one line saying what is wrong and one
// line saying where the flags are explained: the whole usage would bury it.
func parseFlags(set *flag.FlagSet, args []string, cmd string, usage func(w io.Writer), stdout io.Writer) error {
	set.SetOutput(io.Discard)
	set.Usage = func() {}
	err := set.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return flag.ErrHelp
	}
	return usageError{flagProblem(set, err) + "\nrun `" + cmd + " --help` for the flags"}
}

// flagProblem rewords an error of the flag package: flags are written
// --name, and a refused value says what the flag takes.
func flagProblem(set *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if best := closestFlag(set, name); best != "" {
			return fmt.Sprintf("unknown flag --%s (did you mean --%s?)", name, best)
		}
		if set.Lookup("addr") != nil && (strings.Contains(name, "port") || strings.Contains(name, "adr") ||
			strings.Contains(name, "address") || strings.Contains(name, "listen") || editDistance(name, "port") <= 2) {
			return fmt.Sprintf("unknown flag --%s (the listen address and port are --addr, e.g. --addr :3900)", name)
		}
		return "unknown flag --" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("--%s needs a value", strings.TrimLeft(name, "-"))
	}
	var value, name string
	if n, _ := fmt.Sscanf(msg, "invalid value %q for flag -%s", &value, &name); n == 2 {
		name = strings.TrimSuffix(name, ":")
		if f := set.Lookup(name); f != nil {
			return fmt.Sprintf("--%s %q: invalid value: %s", name, value, want(f, err))
		}
	}
	if n, _ := fmt.Sscanf(msg, "invalid boolean value %q for -%s", &value, &name); n == 2 {
		return fmt.Sprintf("--%s %q: want true or false", strings.TrimSuffix(name, ":"), value)
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Sprintf("bad flag %q: write --name value or --name=value", arg)
	}
	return msg
}

// closestFlag returns the flag whose name is within two edits of name, or
// "".
func closestFlag(set *flag.FlagSet, name string) string {
	best, bestD := "", 3
	set.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// checkListenAddr checks an address the way listening on it resolves it
// (net.Listen), without listening: `banter config` and serve refuse the
// same values with the same words.
func checkListenAddr(flagName, addr string) error {
	if _, err := net.ResolveTCPAddr("tcp", addr); err != nil {
		var ae *net.AddrError
		why := err.Error()
		if errors.As(err, &ae) {
			why = ae.Err
		}
		return fmt.Errorf("--%s %q: want host:port or :port, e.g. :3000 or 127.0.0.1:3000 (%s)", flagName, addr, why)
	}
	return nil
}

// fileProblem says why a file named by a flag cannot be read, without the
// "open" of the system call.
func fileProblem(flagName, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("--%s %s: %v", flagName, path, err)
}
