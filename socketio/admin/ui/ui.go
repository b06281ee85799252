// Package ui serves the official Socket.IO Admin UI dashboard (the
// ui/dist folder of npm @socket.io/admin-ui) embedded in the binary, for
// the server side in package socketio/admin.
//
// The files come from node_modules: scripts/bundle.sh copies them into
// dist/ before building (without the source maps), and they are
// git-ignored. A binary built without them still compiles; Handler then
// answers every request with a 404 saying how to add them.
//
// Entry points: Handler, Available, Version. Read-only after package
// initialization and safe for concurrent use.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// dist always holds README.txt, so the pattern matches without the
// dashboard files.
//
//go:embed dist
var embedded embed.FS

// missingMessage answers every request when the dashboard was not built in.
const missingMessage = "The Socket.IO Admin UI dashboard is not built into this binary.\n" +
	"Run `make bundle` (or scripts/bundle.sh) at the repository root, then rebuild.\n"

var dist = func() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic("ui: embedded dist directory missing: " + err.Error())
	}
	return sub
}()

// Available reports whether the dashboard was embedded at build time.
func Available() bool {
	_, err := fs.Stat(dist, "index.html")
	return err == nil
}

// Version returns the @socket.io/admin-ui version of the embedded
// dashboard, or "" when it is absent.
func Version() string {
	b, err := fs.ReadFile(dist, "VERSION")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Handler serves the dashboard under prefix (say "/admin-ui/"; the
// dashboard's links are relative, so any prefix works). GET of prefix
// without its trailing slash redirects to it.
func Handler(prefix string) http.Handler {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	files := http.StripPrefix(prefix, http.FileServerFS(dist))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path+"/" == prefix {
			http.Redirect(w, r, prefix, http.StatusMovedPermanently)
			return
		}
		if !Available() {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(missingMessage))
			return
		}
		rest := strings.TrimPrefix(r.URL.Path, prefix)
		if rest == "README.txt" || rest == "VERSION" {
			http.NotFound(w, r)
			return
		}
		// The file names of js/ and css/ carry a content hash: cache them.
		if strings.HasPrefix(rest, "js/") || strings.HasPrefix(rest, "css/") || strings.HasPrefix(rest, "img/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
