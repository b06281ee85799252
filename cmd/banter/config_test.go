package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// configLines runs `banter config` and returns its output lines by
// setting name.
func configLines(t *testing.T, env map[string]string, args ...string) map[string]string {
	t.Helper()
	code, out, errOut := runCmd(t, func(k string) string { return env[k] }, append([]string{"config"}, args...)...)
	if code != exitOK {
		t.Fatalf("banter config %q: exit %d\n%s", args, code, errOut)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
			lines[name] = l
		}
	}
	return lines
}

// One precedence order for every setting: flag > environment > config
// file > default, and `banter config` names the source of each value.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "banter.yaml", `
addr: ":4001"
db: /var/lib/banter/file.db
log-level: warn
ping-interval: 10s
cors-origins: [https://a.example, https://b.example]
full-sync: true
rate-per-second: 2.5
max-message-bytes: 1000
`)
	env := map[string]string{
		"BANTER_CONFIG":    file,
		"BANTER_ADDR":      ":4002",
		"BANTER_LOG_LEVEL": "debug",
	}
	got := configLines(t, env, "--addr", ":4003")
	for name, want := range map[string]string{
		"addr":              `addr: ":4003"` + "|flag --addr",
		"log-level":         `log-level: "debug"` + "|BANTER_LOG_LEVEL",
		"db":                `db: "/var/lib/banter/file.db"` + "|config file",
		"ping-interval":     `ping-interval: "10s"` + "|config file",
		"cors-origins":      `cors-origins: "https://a.example,https://b.example"` + "|config file",
		"full-sync":         `full-sync: "true"` + "|config file",
		"rate-per-second":   `rate-per-second: "2.5"` + "|config file",
		"max-message-bytes": `max-message-bytes: "1000"` + "|config file",
		"ping-timeout":      `ping-timeout: "20s"` + "|default",
	} {
		value, source, _ := strings.Cut(want, "|")
		if l := got[name]; !strings.HasPrefix(l, value) || !strings.HasSuffix(l, "# "+source) {
			t.Errorf("%s: got line %q, want value %s from %s", name, l, value, source)
		}
	}
	// --config beats BANTER_CONFIG.
	other := writeFile(t, "other.yaml", "addr: \":4009\"\n")
	if l := configLines(t, map[string]string{"BANTER_CONFIG": file}, "--config", other)["addr"]; !strings.Contains(l, `":4009"`) {
		t.Errorf("--config did not win over BANTER_CONFIG: %q", l)
	}
}

// Secrets never appear in `banter config`.
func TestConfigMasksSecrets(t *testing.T) {
	code, out, _ := runCmd(t, func(k string) string {
		return map[string]string{"BANTER_JWT_SECRET": "jwt-secret-0123456789abcdef012345"}[k]
	}, "config")
	if code != exitOK || strings.Contains(out, "jwt-secret-0123") || !strings.Contains(out, "BANTER_JWT_SECRET: set") {
		t.Errorf("banter config with BANTER_JWT_SECRET: exit %d\n%s", code, out)
	}
	got := configLines(t, map[string]string{
		"BANTER_API_KEY": "s3cret-key",
		"BANTER_STORE":   "postgres://banter:hunter2@db:5432/banter",
		"BANTER_REDIS":   "redis://default:hunter3@cache:6379/0",
	})
	all := got["api-key"] + got["store"] + got["redis"]
	for _, secret := range []string{"s3cret-key", "hunter2", "hunter3"} {
		if strings.Contains(all, secret) {
			t.Errorf("banter config shows a secret: %s", all)
		}
	}
	if !strings.Contains(got["api-key"], `"*****"`) || !strings.Contains(got["store"], "banter:xxxxx@db") {
		t.Errorf("secrets not masked as expected:\n%s", all)
	}
}

// The printed configuration is itself a valid config file.
func TestConfigOutputIsAConfigFile(t *testing.T) {
	_, out, _ := runCmd(t, noEnv, "config", "--addr", ":4555", "--tcp", ":4556")
	file := writeFile(t, "printed.yaml", out)
	got := configLines(t, nil, "--config", file)
	if !strings.Contains(got["addr"], `":4555"`) || !strings.Contains(got["tcp"], `":4556"`) || !strings.HasSuffix(got["tcp"], "# config file") {
		t.Errorf("re-reading printed config: %v", got)
	}
}

// Invalid configuration fails at start with a clear message naming the
// setting and where it came from.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"missing file", "", map[string]string{"BANTER_CONFIG": filepath.Join(dir, "nope.yaml")}, "nope.yaml (from BANTER_CONFIG): open"},
		{"not YAML", "addr: [unclosed\n", nil, "not valid YAML"},
		{"not a mapping", "- addr\n- db\n", nil, "not valid YAML"},
		{"unknown key", "adrr: :3000\n", nil, `unknown setting "adrr" (did you mean "addr"?)`},
		{"repeated key", "addr: :1\naddr: :2\n", nil, `"addr"`},
		{"config in config", "config: other.yaml\n", nil, `"config" cannot be set inside a config file`},
		{"bad duration", "ping-interval: soon\n", nil, `ping-interval: "soon": invalid value`},
		{"bad number", "rate-burst: many\n", nil, `rate-burst: "many": invalid value`},
		{"nested value", "addr:\n  host: x\n", nil, "addr: want a value or a list of values"},
		{"empty value", "addr:\n", nil, "addr: no value"},
		{"negative", "rate-burst: -3\n", nil, "must be positive"},
		{"bad level", "log-level: loud\n", nil, `--log-level "loud"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"config"}
			if c.file != "" {
				args = append(args, "--config", writeFile(t, "c.yaml", c.file))
			}
			code, _, errOut := runCmd(t, func(k string) string { return c.env[k] }, args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, exitUsage, c.want)
			}
			// serve refuses the same configuration before listening.
			code, _, errOut2 := runCmd(t, func(k string) string { return c.env[k] }, append([]string{"serve"}, args[1:]...)...)
			if code != exitUsage || errOut2 != errOut {
				t.Errorf("serve: exit %d, stderr %q; want the same refusal as banter config", code, errOut2)
			}
		})
	}
}

// JSON logs are one object per line.
func TestLogFormatJSON(t *testing.T) {
	var b buf
	f := newServeFlags(&b)
	f.logFormat, f.level = "json", "info"
	f.logger(&b).Info("hello", "k", "v")
	if s := b.String(); !strings.HasPrefix(s, `{"time":`) || !strings.Contains(s, `"msg":"hello","k":"v"}`) {
		t.Errorf("json log line: %s", s)
	}
}

// docs/operations.md documents every setting of serve.
func TestOperationsDocListsEverySetting(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	newServeFlags(&buf{}).fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(string(doc), "`--"+f.Name+"`") {
			t.Errorf("docs/operations.md does not document --%s", f.Name)
		}
	})
}
