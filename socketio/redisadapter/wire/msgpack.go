package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// msgpack.go (writing) and msgpack_read.go (reading) are the MessagePack
// side of the wire: a transcoder between the
// JSON Banter keeps packets in (binary attachments as socket.io-parser
// placeholders) and the MessagePack that Node's adapter writes with
// notepack.io 3.x (binary as bin). It writes what notepack writes for the
// same JavaScript value (smallest headers and integer forms, float64 for
// non-integers, object keys in order) and reads what notepack reads,
// including its extensions: undefined (fixext 1, type 0), Date (timestamp
// type -1, and the legacy fixext 8 type 0), ArrayBuffer (ext type 0).
// Pure: no I/O.

// ErrMalformed is wrapped by every error about a malformed message
// (MessagePack or JSON).
var ErrMalformed = errors.New("redisadapter: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// maxDepth bounds nesting in both directions (a hostile message must not
// overflow the stack).
const maxDepth = 500

// --- writing MessagePack ----------------------------------------------------

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// appendInt writes v in the smallest form, as notepack does: positive
// values as unsigned, negative ones as signed.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(b, byte(v))
	case v < 0x100:
		return append(b, 0xcc, byte(v))
	case v < 0x10000:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v < 0x100000000:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// appendNumber writes a JavaScript number as notepack does: integral
// finite values as integers, the rest as float64.
func appendNumber(b []byte, f float64) []byte {
	// An integral float64 is an integer on the wire only while it is exact
	// (|f| ≤ 2^53): past that it stays a float64, so reading it back writes
	// the same JavaScript number (an int64 would print its exact digits:
	// -9223372036854776000 would come back as -9223372036854775808; found
	// by FuzzTranscode). Integers from JSON integer literals keep their
	// exact int64 (jsonTranscoder.number).
	if f == math.Trunc(f) && f >= -(1<<53) && f <= 1<<53 {
		return appendInt(b, int64(f))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 0x100:
		b = append(b, 0xd9, byte(n))
	case n < 0x10000:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, v []byte) []byte {
	n := len(v)
	switch {
	case n < 0x100:
		b = append(b, 0xc4, byte(n))
	case n < 0x10000:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, v...)
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 0x10000:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n < 0x10000:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

func appendStrings(b []byte, ss []string) []byte {
	b = appendArrayHeader(b, len(ss))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

// --- JSON → MessagePack -----------------------------------------------------

// appendJSON transcodes one JSON value (src must hold exactly one, white
// space around it allowed) to MessagePack, replacing socket.io-parser
// placeholders by the attachments they refer to (as bin). As in
// socket.io-parser, an object whose "_placeholder" is true is a
// placeholder only when there are attachments.
func appendJSON(dst, src []byte, att [][]byte) ([]byte, error) {
	t := jsonTranscoder{src: src, att: att}
	dst, err := t.value(dst, 0)
	if err != nil {
		return nil, err
	}
	if t.skipSpace(); t.i != len(src) {
		return nil, malformed("JSON: trailing data at offset %d", t.i)
	}
	return dst, nil
}

type jsonTranscoder struct {
	src []byte
	i   int
	att [][]byte
}

func (t *jsonTranscoder) skipSpace() {
	for t.i < len(t.src) {
		switch t.src[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

func (t *jsonTranscoder) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, malformed("JSON: nested more than %d levels", maxDepth)
	}
	t.skipSpace()
	if t.i >= len(t.src) {
		return nil, malformed("JSON: unexpected end")
	}
	switch c := t.src[t.i]; {
	case c == '{':
		return t.object(dst, depth)
	case c == '[':
		return t.array(dst, depth)
	case c == '"':
		s, err := t.str()
		if err != nil {
			return nil, err
		}
		return appendStr(dst, s), nil
	case c == 't':
		return t.literal(dst, "true", 0xc3)
	case c == 'f':
		return t.literal(dst, "false", 0xc2)
	case c == 'n':
		return t.literal(dst, "null", 0xc0)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number(dst)
	default:
		return nil, malformed("JSON: unexpected %q at offset %d", c, t.i)
	}
}

func (t *jsonTranscoder) literal(dst []byte, word string, code byte) ([]byte, error) {
	if len(t.src)-t.i < len(word) || string(t.src[t.i:t.i+len(word)]) != word {
		return nil, malformed("JSON: bad literal at offset %d", t.i)
	}
	t.i += len(word)
	return append(dst, code), nil
}

func (t *jsonTranscoder) number(dst []byte) ([]byte, error) {
	start := t.i
	integral := true
	if t.src[t.i] == '-' {
		t.i++
	}
	for t.i < len(t.src) {
		c := t.src[t.i]
		if c >= '0' && c <= '9' {
			t.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			integral = false
			t.i++
			continue
		}
		break
	}
	lit := string(t.src[start:t.i])
	if integral {
		// Exact when it fits: a Go int64 beyond 2^53 survives between Go
		// nodes (JavaScript would round it).
		if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return appendInt(dst, v), nil
		}
		if v, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return appendUint(dst, v), nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, malformed("JSON: bad number %q", lit)
	}
	return appendNumber(dst, f), nil
}

// str reads a JSON string.
func (t *jsonTranscoder) str() (string, error) {
	t.i++ // opening quote
	start := t.i
	for t.i < len(t.src) {
		c := t.src[t.i]
		if c == '"' {
			s := string(t.src[start:t.i])
			t.i++
			return s, nil
		}
		if c == '\\' {
			return t.strEscaped(start)
		}
		if c < 0x20 {
			return "", malformed("JSON: control character in string at offset %d", t.i)
		}
		t.i++
	}
	return "", malformed("JSON: unterminated string")
}

func (t *jsonTranscoder) strEscaped(start int) (string, error) {
	buf := append([]byte(nil), t.src[start:t.i]...)
	for t.i < len(t.src) {
		c := t.src[t.i]
		switch {
		case c == '"':
			t.i++
			return string(buf), nil
		case c < 0x20:
			return "", malformed("JSON: control character in string at offset %d", t.i)
		case c != '\\':
			buf = append(buf, c)
			t.i++
			continue
		}
		if t.i+1 >= len(t.src) {
			break
		}
		e := t.src[t.i+1]
		t.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := t.hex4()
			if !ok {
				return "", malformed("JSON: bad \\u escape at offset %d", t.i)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if t.i+1 < len(t.src) && t.src[t.i] == '\\' && t.src[t.i+1] == 'u' {
					save := t.i
					t.i += 2
					if lo, ok := t.hex4(); ok {
						r2 = lo
					} else {
						t.i = save
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", malformed("JSON: bad escape \\%c", e)
		}
	}
	return "", malformed("JSON: unterminated string")
}

func (t *jsonTranscoder) hex4() (rune, bool) {
	if len(t.src)-t.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(t.src[t.i:t.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	t.i += 4
	return rune(v), true
}

// array writes the elements after a provisional 5-byte header, then
// rewrites the header in its smallest form.
func (t *jsonTranscoder) array(dst []byte, depth int) ([]byte, error) {
	t.i++ // [
	hdr := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	n := 0
	t.skipSpace()
	if t.i < len(t.src) && t.src[t.i] == ']' {
		t.i++
		return fixHeader(dst, hdr, 0, appendArrayHeader), nil
	}
	for {
		var err error
		if dst, err = t.value(dst, depth+1); err != nil {
			return nil, err
		}
		n++
		t.skipSpace()
		if t.i >= len(t.src) {
			return nil, malformed("JSON: unterminated array")
		}
		switch t.src[t.i] {
		case ',':
			t.i++
		case ']':
			t.i++
			return fixHeader(dst, hdr, n, appendArrayHeader), nil
		default:
			return nil, malformed("JSON: expected , or ] at offset %d", t.i)
		}
	}
}

func (t *jsonTranscoder) object(dst []byte, depth int) ([]byte, error) {
	t.i++ // {
	hdr := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	n := 0
	placeholder, num, hasNum := false, 0.0, false
	t.skipSpace()
	if t.i < len(t.src) && t.src[t.i] == '}' {
		t.i++
		return fixHeader(dst, hdr, 0, appendMapHeader), nil
	}
	for {
		t.skipSpace()
		if t.i >= len(t.src) || t.src[t.i] != '"' {
			return nil, malformed("JSON: expected an object key at offset %d", t.i)
		}
		key, err := t.str()
		if err != nil {
			return nil, err
		}
		t.skipSpace()
		if t.i >= len(t.src) || t.src[t.i] != ':' {
			return nil, malformed("JSON: expected : at offset %d", t.i)
		}
		t.i++
		dst = appendStr(dst, key)
		valStart := len(dst)
		if dst, err = t.value(dst, depth+1); err != nil {
			return nil, err
		}
		switch key {
		case "_placeholder":
			placeholder = len(dst)-valStart == 1 && dst[valStart] == 0xc3
		case "num":
			num, hasNum = readNumber(dst[valStart:])
		}
		n++
		t.skipSpace()
		if t.i >= len(t.src) {
			return nil, malformed("JSON: unterminated object")
		}
		switch t.src[t.i] {
		case ',':
			t.i++
			continue
		case '}':
			t.i++
		default:
			return nil, malformed("JSON: expected , or } at offset %d", t.i)
		}
		break
	}
	if placeholder && len(t.att) > 0 {
		if !hasNum || num < 0 || num >= float64(len(t.att)) || num != math.Trunc(num) {
			return nil, malformed("placeholder does not refer to one of %d attachment(s)", len(t.att))
		}
		return appendBin(dst[:hdr], t.att[int(num)]), nil
	}
	return fixHeader(dst, hdr, n, appendMapHeader), nil
}

// fixHeader replaces the 5 bytes reserved at hdr by the real header of n
// elements, moving the elements back if the header is shorter.
func fixHeader(dst []byte, hdr, n int, header func([]byte, int) []byte) []byte {
	var tmp [5]byte
	h := header(tmp[:0], n)
	copy(dst[hdr:], h)
	if len(h) < 5 {
		copy(dst[hdr+len(h):], dst[hdr+5:])
		dst = dst[:len(dst)-(5-len(h))]
	}
	return dst
}

// readNumber decodes a MessagePack number written by appendInt, appendUint
// or appendNumber.
func readNumber(b []byte) (float64, bool) {
	r := reader{b: b}
	v, err := r.number()
	return v, err == nil && r.i == len(b)
}
