package clientdist

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeBundle builds a bundle FS with recognisable, compressible contents.
func fakeBundle(version string) fstest.MapFS {
	m := fstest.MapFS{"README.txt": {Data: []byte("readme")}}
	for _, name := range files {
		m[name] = &fstest.MapFile{Data: []byte(strings.Repeat("/* "+name+" */\n", 100))}
	}
	if version != "" {
		m["VERSION"] = &fstest.MapFile{Data: []byte(version + "\n")}
	}
	return m
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServesEachFileLikeNode(t *testing.T) {
	fsys := fakeBundle("4.8.4")
	h := load(fsys)
	for _, name := range files {
		rec := get(t, h, "GET", "/socket.io/"+name, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", name, rec.Code)
		}
		wantType := "application/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".map") {
			wantType = "application/json; charset=utf-8"
		}
		hdr := rec.Header()
		if got := hdr.Get("Content-Type"); got != wantType {
			t.Errorf("%s: Content-Type %q, want %q", name, got, wantType)
		}
		if got := hdr.Get("ETag"); got != `"4.8.4"` {
			t.Errorf("%s: ETag %q, want the quoted client version", name, got)
		}
		if got := hdr.Get("Cache-Control"); got != "public, max-age=0" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
		if hdr.Get("Content-Encoding") != "" {
			t.Errorf("%s: compressed although the client did not ask", name)
		}
		if !bytes.Equal(rec.Body.Bytes(), fsys[name].Data) {
			t.Errorf("%s: body differs from the file", name)
		}
	}
}

func TestServesUnderAnyPrefix(t *testing.T) {
	h := load(fakeBundle("1.0.0"))
	for _, target := range []string{"/socket.io.min.js", "/socket.io/socket.io.min.js", "/x/y/socket.io.min.js?v=2"} {
		if rec := get(t, h, "GET", target, nil); rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", target, rec.Code)
		}
	}
}

func TestConditionalRequestGets304(t *testing.T) {
	h := load(fakeBundle("4.8.4"))
	for _, inm := range []string{`"4.8.4"`, `W/"4.8.4"`, `"other", "4.8.4"`, `*`} {
		rec := get(t, h, "GET", "/socket.io.js", map[string]string{"If-None-Match": inm})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: status %d, %d body bytes; want 304 and none", inm, rec.Code, rec.Body.Len())
		}
	}
	if rec := get(t, h, "GET", "/socket.io.js", map[string]string{"If-None-Match": `"4.8.3"`}); rec.Code != http.StatusOK {
		t.Errorf("stale ETag: status %d, want 200", rec.Code)
	}
}

func TestGzipWhenAccepted(t *testing.T) {
	fsys := fakeBundle("4.8.4")
	h := load(fsys)
	rec := get(t, h, "GET", "/socket.io.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary %q lacks Accept-Encoding", rec.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, fsys["socket.io.js"].Data) {
		t.Fatal("gunzipped body differs from the file")
	}
	rec = get(t, h, "GET", "/socket.io.js", map[string]string{"Accept-Encoding": "gzip;q=0, deflate"})
	if rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("compressed although gzip;q=0 refuses it")
	}
}

func TestHeadHasNoBody(t *testing.T) {
	h := load(fakeBundle("4.8.4"))
	rec := get(t, h, "HEAD", "/socket.io.min.js", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: status %d, %d body bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

func TestRejectsOtherMethodsAndNames(t *testing.T) {
	h := load(fakeBundle("4.8.4"))
	if rec := get(t, h, "POST", "/socket.io.js", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
	for _, target := range []string{"/README.txt", "/VERSION", "/socket.io.esm.min.js", "/", "/socket.io/"} {
		rec := get(t, h, "GET", target, nil)
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "make bundle") {
			t.Errorf("GET %s: status %d body %q, want a plain 404", target, rec.Code, rec.Body.String())
		}
	}
}

func TestAbsentBundleExplainsHowToBuildIt(t *testing.T) {
	partial := fakeBundle("4.8.4")
	delete(partial, "socket.io.min.js.map")
	for name, fsys := range map[string]fstest.MapFS{
		"empty":   {"README.txt": {Data: []byte("readme")}},
		"partial": partial,
	} {
		h := load(fsys)
		if len(h.files) != 0 {
			t.Errorf("%s: bundle counted as present", name)
		}
		rec := get(t, h, "GET", "/socket.io/socket.io.js", nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", name, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q, want text/plain", name, ct)
		}
		if body := rec.Body.String(); !strings.Contains(body, "make bundle") || !strings.Contains(body, "scripts/bundle.sh") {
			t.Errorf("%s: body %q does not say how to build the bundle", name, body)
		}
	}
}

func TestETagWithoutVersionIsContentHash(t *testing.T) {
	a := load(fakeBundle(""))
	if a.version != "" {
		t.Fatalf("version %q from a bundle without VERSION", a.version)
	}
	js, mini := a.files["socket.io.js"].etag, a.files["socket.io.min.js"].etag
	if len(js) < 10 || js[0] != '"' || js[len(js)-1] != '"' || js == mini {
		t.Fatalf("ETags %s and %s: want distinct quoted content hashes", js, mini)
	}
}

// The embedded bundle is present after scripts/bundle.sh (which `make test`
// runs first) and absent in a bare checkout; either way it must behave.
func TestEmbeddedBundle(t *testing.T) {
	rec := get(t, Handler(), "GET", "/socket.io/socket.io.js", nil)
	if !Available() {
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "make bundle") {
			t.Fatalf("absent bundle: status %d body %q", rec.Code, rec.Body.String())
		}
		t.Log("bundle not built: checked the 404; run scripts/bundle.sh to check the real files")
		return
	}
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Socket.IO") {
		t.Fatalf("embedded socket.io.js: status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if v := Version(); !strings.HasPrefix(v, "4.") || rec.Header().Get("ETag") != `"`+v+`"` {
		t.Fatalf("Version %q, ETag %q: want a 4.x version as the ETag", v, rec.Header().Get("ETag"))
	}
}
