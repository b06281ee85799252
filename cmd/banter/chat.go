package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	neturl "net/url"

	"github.com/mattn/go-isatty"

	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/chatui"
)

const chatUsage = `Usage: banter chat [flags]

The terminal chat client. Full-screen when stdin and stdout are a terminal,
else line mode: each input line is posted (or is a command), each message
received is printed as "[room] nick: text", and the command exits at the
end of input once every line is stored:

  echo hi | banter chat --nick bot --room general

Environment (used when the flag is not given): BANTER_URL, BANTER_NICK.

` + chatui.Help + `

Flags:
`

// chatMain is `banter chat`: exit 0 when the user quits, 1 when the server
// cannot be reached or a line could not be posted, 2 for a bad command line.
func chatMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("banter chat", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	url := fs.String("url", env("BANTER_URL", "http://localhost:3000"), "server URL (env BANTER_URL)")
	nick := fs.String("nick", env("BANTER_NICK", ""), "your nickname (env BANTER_NICK; required without --token)")
	token := fs.String("token", env("BANTER_TOKEN", ""), "a JWT for servers that require one; the nickname is then the token's (env BANTER_TOKEN)")
	room := fs.String("room", "", "room to join and show first (default: the server's default room)")
	plain := fs.Bool("plain", false, "line mode even on a terminal")
	follow := fs.Bool("follow", false, "line mode: keep printing messages after the end of input, until interrupted")
	timeout := fs.Duration("timeout", 15*time.Second, "how long to try to reach the server at start")
	usage := func(w io.Writer) {
		fmt.Fprint(w, chatUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, "banter chat", usage, stdout); err != nil {
		return commandExit("banter chat", err, stderr)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "banter chat: unexpected argument %q: the text to send comes from the standard input (see banter chat --help)\n", fs.Arg(0))
		return exitUsage
	}
	if strings.TrimSpace(*nick) == "" && *token == "" {
		fmt.Fprintln(stderr, "banter chat: --nick is required (or --token): choose the nickname others see, e.g. --nick alice")
		return exitUsage
	}
	if u, err := neturl.Parse(*url); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		fmt.Fprintf(stderr, "banter chat: --url %q: want the server's address, e.g. http://localhost:3000\n", *url)
		return exitUsage
	}
	tty := isTerminal(stdin) && isTerminal(stdout) && !*plain

	events := chatui.NewEvents()
	var rooms []string
	if *room != "" {
		rooms = []string{*room}
	}
	dctx, cancel := context.WithTimeout(ctx, *timeout)
	c, err := chatclient.Dial(dctx, *url, chatclient.Config{Nickname: *nick, Token: *token, Rooms: rooms, OnEvent: events.Push})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "banter chat: cannot start a session at %s: %s\n", *url, dialProblem(ctx, *url, err, *timeout))
		return exitFailure
	}
	defer c.Close()
	cur := *room
	if cur == "" {
		// No room asked for: the server's default one.
		jctx, cancel := context.WithTimeout(ctx, *timeout)
		jr, err := c.Join(jctx, c.Hello().DefaultRoom)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "banter chat: cannot join %s: %s\n", c.Hello().DefaultRoom, chatui.Describe(err))
			return exitFailure
		}
		cur = jr.Room
	} else if j := c.Joined(); len(j) == 1 {
		cur = j[0] // canonical
	}
	if tty {
		err = chatui.Run(ctx, c, events, chatui.Options{URL: *url, Room: cur})
	} else {
		err = chatui.RunLines(ctx, c, events, stdin, stdout, chatui.LineOptions{Room: cur, Follow: *follow})
	}
	if err != nil {
		fmt.Fprintln(stderr, "banter chat:", err)
		return exitFailure
	}
	return exitOK
}

// dialProblem says why Dial failed and what to do. The client retries
// refused connections until the timeout, so a timeout is told apart by
// trying the address once more.
func dialProblem(ctx context.Context, rawURL string, err error, timeout time.Duration) string {
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return chatui.Describe(err)
	}
	if u, perr := neturl.Parse(rawURL); perr == nil {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https" || u.Scheme == "wss"])
		}
		c, derr := net.DialTimeout("tcp", host, time.Second)
		if derr == nil {
			c.Close()
		} else if errors.Is(derr, syscall.ECONNREFUSED) {
			return "nothing is listening at " + host + ": start the server (banter serve) or check --url (or BANTER_URL)"
		}
	}
	return fmt.Sprintf("no answer within %v: is a Banter server running at that address? Check --url (or BANTER_URL), or allow longer with --timeout", timeout)
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
