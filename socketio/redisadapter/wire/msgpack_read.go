package wire

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/banter-chat/banter/socketio/parser"
)

// Reading MessagePack (notepack.io's output) and transcoding it to JSON.

// --- reading MessagePack ----------------------------------------------------

// reader reads MessagePack from b.
type reader struct {
	b []byte
	i int
}

func (r *reader) need(n int) error {
	if n < 0 || len(r.b)-r.i < n {
		return malformed("msgpack: truncated at offset %d", r.i)
	}
	return nil
}

func (r *reader) byte1() (byte, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *reader) uintN(n int) (uint64, error) {
	if err := r.need(n); err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range r.b[r.i : r.i+n] {
		v = v<<8 | uint64(c)
	}
	r.i += n
	return v, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if err := r.need(n); err != nil {
		return nil, err
	}
	v := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return v, nil
}

// peek returns the next type byte without consuming it.
func (r *reader) peek() (byte, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	return r.b[r.i], nil
}

// arrayLen reads an array header.
func (r *reader) arrayLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xdc:
		n, err = r.uintN(2)
	case c == 0xdd:
		n, err = r.uintN(4)
	default:
		return 0, malformed("msgpack: expected an array, got 0x%02x at offset %d", c, r.i-1)
	}
	if err != nil {
		return 0, err
	}
	return r.count(n)
}

// count checks a container length against what is left (every element
// takes at least one byte), so a forged header cannot make us allocate.
func (r *reader) count(n uint64) (int, error) {
	if n > uint64(len(r.b)-r.i) {
		return 0, malformed("msgpack: %d elements announced, %d bytes left", n, len(r.b)-r.i)
	}
	return int(n), nil
}

// mapLen reads a map header.
func (r *reader) mapLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), nil
	case c == 0xde:
		n, err = r.uintN(2)
	case c == 0xdf:
		n, err = r.uintN(4)
	default:
		return 0, malformed("msgpack: expected a map, got 0x%02x at offset %d", c, r.i-1)
	}
	if err != nil {
		return 0, err
	}
	return r.count(n)
}

// strLen returns the length of a str starting with c, or ok false.
func (r *reader) strLen(c byte) (n int, ok bool, err error) {
	var v uint64
	switch {
	case c&0xe0 == 0xa0:
		return int(c & 0x1f), true, nil
	case c == 0xd9:
		v, err = r.uintN(1)
	case c == 0xda:
		v, err = r.uintN(2)
	case c == 0xdb:
		v, err = r.uintN(4)
	default:
		return 0, false, nil
	}
	return int(v), true, err
}

func isStr(c byte) bool { return c&0xe0 == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb }

// str reads a string.
func (r *reader) str() (string, error) {
	c, err := r.byte1()
	if err != nil {
		return "", err
	}
	n, ok, err := r.strLen(c)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", malformed("msgpack: expected a string, got 0x%02x at offset %d", c, r.i-1)
	}
	b, err := r.bytes(n)
	return string(b), err
}

// key reads a map key or a room name: a string, or a number JavaScript
// would turn into one.
func (r *reader) key() (string, error) {
	c, err := r.peek()
	if err != nil {
		return "", err
	}
	if isStr(c) {
		return r.str()
	}
	f, err := r.number()
	if err != nil {
		return "", malformed("msgpack: expected a string key at offset %d", r.i)
	}
	return string(appendJSNumber(nil, f)), nil
}

// isNil consumes a nil and reports whether there was one.
func (r *reader) isNil() bool {
	if r.i < len(r.b) && r.b[r.i] == 0xc0 {
		r.i++
		return true
	}
	return false
}

// number reads any integer or float as a float64 (JavaScript's number).
func (r *reader) number() (float64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	switch {
	case c < 0x80:
		return float64(c), nil
	case c >= 0xe0:
		return float64(int8(c)), nil
	}
	var v uint64
	switch c {
	case 0xcc, 0xd0:
		v, err = r.uintN(1)
	case 0xcd, 0xd1:
		v, err = r.uintN(2)
	case 0xce, 0xd2, 0xca:
		v, err = r.uintN(4)
	case 0xcf, 0xd3, 0xcb:
		v, err = r.uintN(8)
	default:
		return 0, malformed("msgpack: expected a number, got 0x%02x at offset %d", c, r.i-1)
	}
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xd0:
		return float64(int8(v)), nil
	case 0xd1:
		return float64(int16(v)), nil
	case 0xd2:
		return float64(int32(v)), nil
	case 0xd3:
		return float64(int64(v)), nil
	case 0xca:
		return float64(math.Float32frombits(uint32(v))), nil
	case 0xcb:
		return math.Float64frombits(v), nil
	}
	return float64(v), nil
}

// bool reads a boolean.
func (r *reader) bool() (bool, error) {
	c, err := r.byte1()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, malformed("msgpack: expected a boolean, got 0x%02x at offset %d", c, r.i-1)
}

// skip passes over one value.
func (r *reader) skip() error {
	_, _, err := r.json(nil, nil, 0)
	return err
}

// strings reads an array of room names.
func (r *reader) strings() ([]string, error) {
	if r.isNil() {
		return nil, nil
	}
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	for range n {
		s, err := r.key()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// --- MessagePack → JSON -----------------------------------------------------

// appendMsgpackJSON transcodes one MessagePack value to the JSON
// JSON.stringify would write for the value notepack decodes, bin (Buffer)
// becoming a placeholder whose attachment is appended to att. It returns
// the extended dst and att. undefined is written as null (it only occurs
// in arrays there; object members that are undefined are dropped, as
// JSON.stringify drops them).
func (r *reader) appendMsgpackJSON(dst []byte, att [][]byte) ([]byte, [][]byte, error) {
	var undef bool
	var err error
	dst, att, undef, err = r.jsonValue(dst, att, 0)
	if err != nil {
		return nil, nil, err
	}
	if undef {
		dst = append(dst, "null"...)
	}
	return dst, att, nil
}

// json transcodes one value; for skip, dst may be nil.
func (r *reader) json(dst []byte, att [][]byte, depth int) ([]byte, [][]byte, error) {
	dst, att, undef, err := r.jsonValue(dst, att, depth)
	if undef {
		dst = append(dst, "null"...)
	}
	return dst, att, err
}

// jsonValue writes one value, or reports undef (writing nothing) for
// notepack's undefined.
func (r *reader) jsonValue(dst []byte, att [][]byte, depth int) (_ []byte, _ [][]byte, undef bool, err error) {
	if depth > maxDepth {
		return nil, nil, false, malformed("msgpack: nested more than %d levels", maxDepth)
	}
	c, err := r.peek()
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case c < 0x80 || c >= 0xe0 || (c >= 0xca && c <= 0xd3):
		f, err := r.number()
		if err != nil {
			return nil, nil, false, err
		}
		if c == 0xcf || c == 0xd3 {
			// 64-bit integers: exact, not rounded through float64.
			v := binary.BigEndian.Uint64(r.b[r.i-8 : r.i])
			if c == 0xcf {
				return strconv.AppendUint(dst, v, 10), att, false, nil
			}
			return strconv.AppendInt(dst, int64(v), 10), att, false, nil
		}
		return appendJSNumber(dst, f), att, false, nil
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		dst, att, err = r.jsonMap(dst, att, depth)
		return dst, att, false, err
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		dst, att, err = r.jsonArray(dst, att, depth)
		return dst, att, false, err
	case isStr(c):
		s, err := r.str()
		if err != nil {
			return nil, nil, false, err
		}
		return parser.AppendJSONString(dst, s), att, false, nil
	}
	r.i++
	switch c {
	case 0xc0:
		return append(dst, "null"...), att, false, nil
	case 0xc2:
		return append(dst, "false"...), att, false, nil
	case 0xc3:
		return append(dst, "true"...), att, false, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := r.uintN(1 << (c - 0xc4))
		if err != nil {
			return nil, nil, false, err
		}
		b, err := r.bytes(int(min(n, math.MaxInt32)))
		if err != nil {
			return nil, nil, false, err
		}
		return appendPlaceholder(dst, len(att)), append(att, b), false, nil
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32
		n, err := r.uintN(1 << (c - 0xc7))
		if err != nil {
			return nil, nil, false, err
		}
		return r.jsonExt(dst, att, int(min(n, math.MaxInt32)), false)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1/2/4/8/16
		return r.jsonExt(dst, att, 1<<(c-0xd4), true)
	}
	return nil, nil, false, malformed("msgpack: unknown type 0x%02x at offset %d", c, r.i-1)
}

// jsonExt writes an extension value the way notepack decodes it.
func (r *reader) jsonExt(dst []byte, att [][]byte, n int, fixed bool) ([]byte, [][]byte, bool, error) {
	typ, err := r.byte1()
	if err != nil {
		return nil, nil, false, err
	}
	data, err := r.bytes(n)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case int8(typ) == 0 && fixed && n == 1:
		return dst, att, true, nil // undefined
	case int8(typ) == 0 && !fixed:
		// ArrayBuffer: binary.
		return appendPlaceholder(dst, len(att)), append(att, data), false, nil
	case int8(typ) == 0 && fixed && n == 8:
		// Legacy Date: milliseconds, signed high word.
		ms := int64(binary.BigEndian.Uint64(data))
		return appendJSONDate(dst, time.UnixMilli(ms)), att, false, nil
	case int8(typ) == -1 && (n == 4 || n == 8 || n == 12):
		var t time.Time
		switch n {
		case 4:
			t = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
		case 8:
			v := binary.BigEndian.Uint64(data)
			t = time.Unix(int64(v&0x3ffffffff), int64(v>>34))
		case 12:
			t = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
		}
		return appendJSONDate(dst, t), att, false, nil
	}
	// notepack: [type, Buffer].
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(int8(typ)), 10)
	dst = append(dst, ',')
	dst = appendPlaceholder(dst, len(att))
	return append(dst, ']'), append(att, data), false, nil
}

func (r *reader) jsonArray(dst []byte, att [][]byte, depth int) ([]byte, [][]byte, error) {
	n, err := r.arrayLen()
	if err != nil {
		return nil, nil, err
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, att, err = r.json(dst, att, depth+1); err != nil {
			return nil, nil, err
		}
	}
	return append(dst, ']'), att, nil
}

func (r *reader) jsonMap(dst []byte, att [][]byte, depth int) ([]byte, [][]byte, error) {
	n, err := r.mapLen()
	if err != nil {
		return nil, nil, err
	}
	dst = append(dst, '{')
	first := true
	for range n {
		k, err := r.key()
		if err != nil {
			return nil, nil, err
		}
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = parser.AppendJSONString(dst, k)
		dst = append(dst, ':')
		var undef bool
		dst, att, undef, err = r.jsonValue(dst, att, depth+1)
		if err != nil {
			return nil, nil, err
		}
		if undef {
			dst = dst[:mark] // JSON.stringify drops undefined members
			continue
		}
		first = false
	}
	return append(dst, '}'), att, nil
}

func appendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

// appendJSNumber writes f as JavaScript's Number.prototype.toString does
// (JSON.stringify writes null for NaN and infinities).
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0') // -0 too, as JavaScript writes it
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Go writes 1e-07, JavaScript 1e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendJSONDate writes a Date as JSON.stringify does (toISOString).
func appendJSONDate(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	return append(dst, '"')
}
