package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAdminPasswordPrintsABcryptHash(t *testing.T) {
	var out, errs buf
	if code := adminPasswordMain([]string{"--cost", "4"}, strings.NewReader("s3cret pass\nignored\n"), &out, &errs); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	hash := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret pass")); err != nil {
		t.Fatalf("%q is not the hash of the first line: %v", hash, err)
	}
	for name, c := range map[string]struct {
		args  []string
		stdin string
	}{
		"password as an argument": {[]string{"s3cret"}, ""},
		"empty stdin":             {nil, ""},
		"bad cost":                {[]string{"--cost", "99"}, "x\n"},
	} {
		var out, errs buf
		if code := adminPasswordMain(c.args, strings.NewReader(c.stdin), &out, &errs); code != exitUsage || out.String() != "" {
			t.Errorf("%s: exit %d, output %q", name, code, out.String())
		}
	}
}

func TestAdminUISettings(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "hash")
	if err := os.WriteFile(file, append(hash, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	for name, c := range map[string]struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		"off":              {nil, nil, ""},
		"hash file":        {[]string{"--admin-ui", "--admin-ui-password-file", file}, nil, ""},
		"hash variable":    {[]string{"--admin-ui"}, map[string]string{adminHashEnv: string(hash)}, ""},
		"all from env":     {nil, map[string]string{"BANTER_ADMIN_UI": "true", adminHashEnv: string(hash), "BANTER_ADMIN_UI_MODE": "production"}, ""},
		"no hash":          {[]string{"--admin-ui"}, nil, "needs the bcrypt hash"},
		"a plain password": {[]string{"--admin-ui"}, map[string]string{adminHashEnv: "changeit"}, "not a bcrypt hash"},
		"missing file":     {[]string{"--admin-ui", "--admin-ui-password-file", file + ".nope"}, nil, "--admin-ui-password-file"},
		"bad mode":         {[]string{"--admin-ui-mode", "fast"}, nil, "want development or production"},
		"empty user":       {[]string{"--admin-ui", "--admin-ui-user", " ", "--admin-ui-password-file", file}, nil, "--admin-ui-user is empty"},
	} {
		var out, errs buf
		f, _, err := parseServe(c.args, env(c.env), &out, &errs)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", name, err, c.wantErr)
		case err == nil && f.adminCfg.Enabled && f.adminCfg.PasswordHash != string(hash):
			t.Errorf("%s: hash %q", name, f.adminCfg.PasswordHash)
		}
	}
}
