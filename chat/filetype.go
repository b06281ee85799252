package chat

import (
	"bytes"
	"image"
	_ "image/gif"  // registers GIF for image.DecodeConfig
	_ "image/jpeg" // JPEG
	_ "image/png"  // PNG
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	_ "golang.org/x/image/webp" // WebP
)

// Image limits: a preview must not make every viewer's browser decode a
// bomb (a few kilobytes of PNG can declare 100,000 × 100,000 pixels).
const (
	MaxImageSide   = 16384
	MaxImagePixels = 50_000_000
)

// extTypes are the media types file name extensions claim, for the ones
// that matter: the allowed defaults, and what a disguised file would
// pretend to be.
var extTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".pdf": "application/pdf",
	".txt": "text/plain", ".text": "text/plain", ".log": "text/plain", ".md": "text/plain", ".csv": "text/plain",
	".html": "text/html", ".htm": "text/html", ".xhtml": "application/xhtml+xml", ".shtml": "text/html",
	".svg": "image/svg+xml", ".svgz": "image/svg+xml", ".xml": "text/xml", ".xsl": "text/xml",
	".js": "text/javascript", ".mjs": "text/javascript",
	".zip": "application/zip", ".gz": "application/x-gzip",
	".mp3": "audio/mpeg", ".mp4": "video/mp4", ".webm": "video/webm", ".ogg": "application/ogg",
	".wav": "audio/wave", ".avi": "video/avi", ".bmp": "image/bmp", ".ico": "image/x-icon",
}

// activeTypes are rendered by browsers as documents that can run script:
// never accepted, whatever the allowlist says.
func activeType(t string) bool {
	switch t {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"text/javascript", "application/javascript", "text/css":
		return true
	}
	return strings.HasSuffix(t, "+xml")
}

// markupPrefixes betray an HTML, SVG or XML document that content
// sniffing calls plain text (Go's sniffer, like the WHATWG's, knows
// neither SVG nor every HTML start).
var markupPrefixes = []string{"<!doctype", "<html", "<head", "<body", "<svg", "<?xml", "<script", "<iframe", "<object", "<embed", "<style", "<meta", "<link", "<img", "<a ", "<div", "<!--", "<xsl", "<math"}

// looksLikeMarkup reports whether text begins (after white space and a
// byte order mark) with an HTML, SVG or XML construct.
func looksLikeMarkup(data []byte) bool {
	head := data[:min(len(data), 1024)]
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n\f")
	if len(head) == 0 || head[0] != '<' {
		return false
	}
	lower := bytes.ToLower(head)
	for _, p := range markupPrefixes {
		if bytes.HasPrefix(lower, []byte(p)) {
			return true
		}
	}
	// Any tag-like start: "<name" followed by space, '>' or '/'.
	i := 1
	for i < len(lower) && (lower[i] >= 'a' && lower[i] <= 'z' || lower[i] >= '0' && lower[i] <= '9' || lower[i] == ':' || lower[i] == '-') {
		i++
	}
	return i > 1 && i < len(lower) && (lower[i] == ' ' || lower[i] == '>' || lower[i] == '/' || lower[i] == '\n' || lower[i] == '\t')
}

// NormalizeMediaType returns the lower-case media type of a declared
// Content-Type or type field without its parameters ("" for "" and for
// application/octet-stream, which declares nothing).
func NormalizeMediaType(declared string) (string, error) {
	declared = strings.TrimSpace(declared)
	if declared == "" {
		return "", nil
	}
	t, _, err := mime.ParseMediaType(declared)
	if err != nil || !strings.Contains(t, "/") {
		return "", Errorf(CodeInvalidArgument, "%q is not a media type (like image/png)", declared)
	}
	switch t {
	case "application/octet-stream":
		return "", nil
	case "image/jpg", "image/pjpeg":
		return "image/jpeg", nil
	}
	return t, nil
}

// NameType returns the media type a file name's extension claims, "" for
// an extension this server does not know.
func NameType(name string) string { return extTypes[strings.ToLower(path.Ext(name))] }

// SniffFile decides a file's media type from its content and checks it:
// the sniffed type (net/http's content sniffing, the WHATWG algorithm)
// must be allowed by cfg, must be the declared type when the client
// declared one, and must be what the name's extension says when it says
// something; HTML, SVG, XML and script are refused whatever they claim;
// text must be UTF-8 and not markup; an image's header must decode, and
// its dimensions (returned) stay within MaxImageSide and MaxImagePixels.
// Errors are CodeUnsupportedFile with the reason.
func (c FileConfig) SniffFile(data []byte, name, declared string) (typ string, width, height int, err error) {
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if sniffed == "text/plain" && looksLikeMarkup(data) {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "the file is HTML, SVG or XML markup, which is not accepted (it could run in a browser)")
	}
	if activeType(sniffed) {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "the file is %s, which is not accepted (it could run in a browser)", sniffed)
	}
	if activeType(declared) {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "files of type %s are not accepted (they could run in a browser)", declared)
	}
	if strings.HasPrefix(declared, "text/") && sniffed == "text/plain" {
		declared = sniffed // text/markdown, text/csv…: served as the plain text they are
	}
	if declared != "" && declared != sniffed {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "the file was declared %s but its content is %s", declared, describeType(sniffed))
	}
	if byName := NameType(name); byName != "" && byName != sniffed {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "the name %q says %s but the content is %s", name, byName, describeType(sniffed))
	}
	if !c.allows(sniffed) {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "files of type %s are not accepted (accepted: %s)", describeType(sniffed), strings.Join(c.Types, ", "))
	}
	if strings.HasPrefix(sniffed, "text/") && !utf8.Valid(data) {
		return "", 0, 0, Errorf(CodeUnsupportedFile, "text files must be UTF-8")
	}
	if strings.HasPrefix(sniffed, "image/") {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		switch {
		case err != nil && format == "":
			// A type this binary cannot measure (image/bmp, if allowed):
			// accepted without dimensions.
			if err == image.ErrFormat {
				return sniffed, 0, 0, nil
			}
			return "", 0, 0, Errorf(CodeUnsupportedFile, "the image header cannot be read")
		case err != nil:
			return "", 0, 0, Errorf(CodeUnsupportedFile, "the %s image header is damaged", format)
		case cfg.Width < 1 || cfg.Height < 1:
			return "", 0, 0, Errorf(CodeUnsupportedFile, "the image has no pixels")
		case cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels:
			return "", 0, 0, Errorf(CodeUnsupportedFile, "the image is %d × %d pixels, the limit is %d per side and %d in all", cfg.Width, cfg.Height, MaxImageSide, MaxImagePixels)
		}
		return sniffed, cfg.Width, cfg.Height, nil
	}
	return sniffed, 0, 0, nil
}

func describeType(t string) string {
	if t == "application/octet-stream" {
		return "unrecognized binary data"
	}
	return t
}

// InlineType reports whether a file of media type t may be shown in a
// browser tab (Content-Disposition: inline) rather than only downloaded:
// raster images and plain text, which cannot run anything.
func InlineType(t string) bool {
	switch t {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain":
		return true
	}
	return false
}
