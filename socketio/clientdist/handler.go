package clientdist

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// files are the names served, as Node's socket.io server names them.
var files = []string{"socket.io.js", "socket.io.min.js", "socket.io.js.map", "socket.io.min.js.map"}

// missingMessage answers every request when the bundle was not built in.
const missingMessage = "The Socket.IO client bundle is not built into this binary.\n" +
	"Run `make bundle` (or scripts/bundle.sh) at the repository root, then rebuild.\n"

var (
	defaultOnce   sync.Once
	defaultBundle *bundle
)

func defaultDist() *bundle {
	defaultOnce.Do(func() {
		sub, err := fs.Sub(embedded, "dist")
		if err != nil {
			panic("clientdist: embedded dist directory missing: " + err.Error())
		}
		defaultBundle = load(sub)
	})
	return defaultBundle
}

// Handler serves the bundle files by the last element of the request path
// (so it works under any prefix, e.g. /socket.io/socket.io.min.js), with the
// same Content-Type, ETag and Cache-Control as Node's socket.io server, and
// gzip when the client accepts it. Unknown names get 404; so does every name,
// with instructions, when the bundle is absent.
func Handler() http.Handler { return defaultDist() }

// Available reports whether the bundle was embedded at build time.
func Available() bool { return len(defaultDist().files) > 0 }

// Version returns the socket.io-client version of the embedded bundle, or ""
// when it is absent or its VERSION file is missing.
func Version() string { return defaultDist().version }

type bundle struct {
	files   map[string]*file
	version string
}

type file struct {
	contentType string
	etag        string
	data        []byte

	gzipOnce sync.Once
	gzipped  []byte // nil if compression does not pay
}

// load reads the bundle from fsys. A partial bundle (some files missing)
// counts as absent: serving socket.io.js without its map, or the reverse,
// would hide a broken build.
func load(fsys fs.FS) *bundle {
	b := &bundle{files: make(map[string]*file)}
	if v, err := fs.ReadFile(fsys, "VERSION"); err == nil {
		b.version = strings.TrimSpace(string(v))
	}
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return &bundle{files: map[string]*file{}}
		}
		ct := "application/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".map") {
			ct = "application/json; charset=utf-8"
		}
		b.files[name] = &file{contentType: ct, etag: etagFor(b.version, data), data: data}
	}
	return b
}

// etagFor mirrors Node's socket.io server, whose ETag is the quoted client
// version; without a version, a hash of the content is as good a validator.
func etagFor(version string, data []byte) string {
	if version != "" {
		return `"` + version + `"`
	}
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (b *bundle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Base(r.URL.Path)
	if !isBundleName(name) {
		http.NotFound(w, r)
		return
	}
	f, ok := b.files[name]
	if !ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(missingMessage))
		return
	}
	h := w.Header()
	if etagMatches(r.Header.Get("If-None-Match"), f.etag) {
		h.Set("ETag", f.etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// max-age=0: the browser revalidates with the ETag on every load, so an
	// upgraded server is picked up at once while an unchanged one costs a 304.
	h.Set("Cache-Control", "public, max-age=0")
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Add("Vary", "Accept-Encoding")
	body := f.data
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := f.gzip(); gz != nil {
			h.Set("Content-Encoding", "gzip")
			body = gz
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func isBundleName(name string) bool {
	for _, f := range files {
		if f == name {
			return true
		}
	}
	return false
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 13.1.2):
// a list of tags, or "*".
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero q.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// gzip compresses once, on first demand: most deployments serve only one of
// the four files, and compressing at init would slow every start.
func (f *file) gzip() []byte {
	f.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(f.data)
		_ = zw.Close()
		if buf.Len() < len(f.data) {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}
