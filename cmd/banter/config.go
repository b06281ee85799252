package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/banter-chat/banter/app"
)

// Every setting of `banter serve` is a flag of serveFlags. It can also be
// given in the environment (BANTER_ + the flag name in upper case, dashes
// as underscores) or in a YAML config file (the flag name as the key).
// One precedence order, highest first:
//
//	command-line flag > BANTER_* environment > config file > default
//
// The config file is named by --config or BANTER_CONFIG. `banter config`
// prints the effective configuration with the source of every value.

// configFlag names the flag that names the config file.
const configFlag = "config"

// secretSettings are masked by `banter config` and never logged.
var secretSettings = map[string]bool{"api-key": true, "jwt-secret": true}

// urlSettings may hold a password inside a URL: `banter config` masks it.
var urlSettings = map[string]bool{"store": true, "redis": true}

// envName is the environment variable of a setting.
func envName(setting string) string {
	return "BANTER_" + strings.ToUpper(strings.ReplaceAll(setting, "-", "_"))
}

// setting is one resolved value and where it came from.
type setting struct {
	name, value, source string
}

// resolveSettings fills every setting that no flag gave from the
// environment, then from the config file, and returns all settings in
// name order with their sources. Errors name the setting and its source.
func resolveSettings(fs *flag.FlagSet, getenv func(string) string) ([]setting, error) {
	byFlag := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { byFlag[f.Name] = true })

	path, pathSource := fs.Lookup(configFlag).Value.String(), "flag --"+configFlag
	if !byFlag[configFlag] {
		path, pathSource = getenv(envName(configFlag)), envName(configFlag)
	}
	var file map[string]string
	if path != "" {
		var err error
		if file, err = readConfigFile(fs, path); err != nil {
			return nil, fmt.Errorf("config file %s (from %s): %w", path, pathSource, err)
		}
	}

	var out []setting
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		s := setting{name: f.Name, source: "default"}
		switch {
		case f.Name == configFlag:
			if path != "" {
				s.source = pathSource
			}
		case byFlag[f.Name]:
			s.source = "flag --" + f.Name
		default:
			if v := getenv(envName(f.Name)); v != "" {
				s.source = envName(f.Name)
				if err := fs.Set(f.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: invalid value: %s", envName(f.Name), v, want(f, err)))
				}
			} else if v, ok := file[f.Name]; ok {
				s.source = "config file"
				if err := fs.Set(f.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("config file %s: %s: %q: invalid value: %s", path, f.Name, v, want(f, err)))
				}
			}
		}
		s.value = f.Value.String()
		out = append(out, s)
	})
	return out, errors.Join(errs...)
}

// want says what a setting accepts, for a value it refused.
func want(f *flag.Flag, err error) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return err.Error()
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration such as 500ms, 25s or 2m"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	case bool:
		return "want true or false"
	}
	return err.Error()
}

// readConfigFile reads a YAML mapping of setting names to values. Unknown
// or repeated keys are errors (a typo must not be silently ignored); lists
// become comma-separated values (cors-origins: [a, b]).
func readConfigFile(fs *flag.FlagSet, path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.MapSlice
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	out := make(map[string]string, len(doc))
	for _, item := range doc {
		key, ok := item.Key.(string)
		if !ok {
			return nil, fmt.Errorf("key %v: want a setting name", item.Key)
		}
		if key == configFlag {
			return nil, errors.New(`"config" cannot be set inside a config file`)
		}
		if fs.Lookup(key) == nil {
			return nil, fmt.Errorf("unknown setting %q%s (banter --help lists them)", key, suggest(fs, key))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("setting %q given twice", key)
		}
		v, err := yamlScalar(item.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out[key] = v
	}
	return out, nil
}

// yamlScalar turns a decoded YAML value into the text a flag parses.
func yamlScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64, uint64, int, uint:
		return fmt.Sprint(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := yamlScalar(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q contains a comma", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", errors.New("no value (write \"\" for an empty one)")
	default:
		return "", fmt.Errorf("want a value or a list of values, not %T", v)
	}
}

// suggest returns ` (did you mean "x"?)` for a setting name close to key.
func suggest(fs *flag.FlagSet, key string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(key, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// maskedValue is a setting's value as `banter config` shows it.
func maskedValue(s setting) string {
	switch {
	case secretSettings[s.name] && s.value != "":
		return "*****"
	case urlSettings[s.name]:
		return app.RedactURL(s.value)
	}
	return s.value
}

// printConfig writes the settings as a YAML config file (each value's
// source in a comment), so `banter config > banter.yaml` is a start.
func printConfig(w io.Writer, settings []setting) {
	fmt.Fprintln(w, "# Effective configuration of banter serve.")
	fmt.Fprintln(w, "# Precedence: flag > BANTER_* environment > config file > default.")
	width := 0
	for _, s := range settings {
		width = max(width, len(s.name)+len(strconv.Quote(maskedValue(s)))+2)
	}
	for _, s := range slices.Clone(settings) {
		if s.name == configFlag {
			fmt.Fprintf(w, "# config file: %s (%s)\n", orNone(s.value), s.source)
			continue
		}
		line := s.name + ": " + strconv.Quote(maskedValue(s))
		fmt.Fprintf(w, "%-*s # %s\n", width, line, s.source)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// printUsage explains every setting: flag, type, meaning, environment
// variable, default.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n        %s\n        env %s", strings.ReplaceAll(usage, "\n", "\n        "), envName(f.Name))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, "; default %s", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
