package parser

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// argsEncoder writes JSON while pulling []byte out into attachments.
type argsEncoder struct {
	buf         []byte
	attachments [][]byte
	depth       int
}

// maxDepth bounds nesting so that a cyclic value fails instead of overflowing the
// stack (encoding/json fails on cycles too).
const maxDepth = 1000

var placeholderPrefix = []byte(`{"_placeholder":true,"num":`)

func (e *argsEncoder) placeholder(b []byte) {
	e.buf = append(e.buf, placeholderPrefix...)
	e.buf = strconv.AppendInt(e.buf, int64(len(e.attachments)), 10)
	e.buf = append(e.buf, '}')
	e.attachments = append(e.attachments, b)
}

// value encodes v, taking a fast path for the types chat traffic is made of.
func (e *argsEncoder) value(v any) error {
	if e.depth >= maxDepth {
		return fmt.Errorf("%w: nested more than %d levels deep (a cycle?)", ErrUnsupportedValue, maxDepth)
	}
	e.depth++
	err := e.valueAt(v)
	e.depth--
	return err
}

func (e *argsEncoder) valueAt(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case json.RawMessage:
		if len(x) == 0 {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if !json.Valid(x) {
			return fmt.Errorf("%w: json.RawMessage is not valid JSON", ErrUnsupportedValue)
		}
		e.buf = append(e.buf, x...)
	case []byte:
		if x == nil {
			e.buf = append(e.buf, "null"...) // as encoding/json; JavaScript has no nil Buffer
			return nil
		}
		e.placeholder(x)
	case string:
		e.buf = AppendJSONString(e.buf, x)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case float64:
		return e.float(x)
	case []any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, el := range x {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(el); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case map[string]any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json order: Go maps have no insertion order to keep
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = AppendJSONString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return e.reflect(reflect.ValueOf(v))
	}
	return nil
}

// float formats like encoding/json, which follows ECMAScript's Number::toString.
func (e *argsEncoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: %v", ErrUnsupportedValue, f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, 64)
	if format == 'e' {
		// "1e-07" -> "1e-7", as JavaScript writes it.
		if n := len(e.buf); n >= 4 && e.buf[n-4] == 'e' && e.buf[n-3] == '-' && e.buf[n-2] == '0' {
			e.buf[n-2] = e.buf[n-1]
			e.buf = e.buf[:n-1]
		}
	}
	return nil
}

// marshalLeaf appends v as encoding/json writes it, without HTML escaping (JavaScript
// does not escape '<', '>' and '&').
func (e *argsEncoder) marshalLeaf(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupportedValue, err)
	}
	e.buf = append(e.buf, bytes.TrimSuffix(b.Bytes(), []byte{'\n'})...)
	return nil
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// reflect encodes values of other types. Types that cannot hold a []byte go to
// encoding/json unchanged; the others are walked here, following encoding/json's rules
// for the common cases: struct fields named by their json tag, "-" and "omitempty" /
// "omitzero" honoured, untagged embedded structs inlined with Go's precedence rules
// (shallowest wins, ambiguous names dropped), maps with string or integer keys written
// in sorted key order. The ",string" option is not supported on such structs.
func (e *argsEncoder) reflect(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	if !mayHoldBinary(t) {
		return e.marshalLeaf(v.Interface())
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem().Interface())
	case reflect.Slice:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			e.placeholder(v.Bytes())
			return nil
		}
		fallthrough
	case reflect.Array:
		e.buf = append(e.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(v.Index(i).Interface()); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case reflect.Map:
		return e.mapValue(v)
	case reflect.Struct:
		return e.structValue(v)
	default:
		return e.marshalLeaf(v.Interface())
	}
	return nil
}

func (e *argsEncoder) mapValue(v reflect.Value) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	type kv struct {
		key string
		val reflect.Value
	}
	kvs := make([]kv, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k := it.Key()
		var ks string
		switch {
		case k.Kind() == reflect.String:
			ks = k.String()
		case k.Type().Implements(textMarshalerType):
			b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return fmt.Errorf("%w: map key: %w", ErrUnsupportedValue, err)
			}
			ks = string(b)
		case k.CanInt():
			ks = strconv.FormatInt(k.Int(), 10)
		case k.CanUint():
			ks = strconv.FormatUint(k.Uint(), 10)
		default:
			return fmt.Errorf("%w: map key type %s", ErrUnsupportedValue, k.Type())
		}
		kvs = append(kvs, kv{ks, it.Value()})
	}
	slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	e.buf = append(e.buf, '{')
	for i, p := range kvs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = AppendJSONString(e.buf, p.key)
		e.buf = append(e.buf, ':')
		if err := e.value(p.val.Interface()); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *argsEncoder) structValue(v reflect.Value) error {
	fields, err := structFields(v.Type())
	if err != nil {
		return err
	}
	e.buf = append(e.buf, '{')
	first := true
	for _, f := range fields {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || !fv.CanInterface() || (f.omitEmpty && isEmptyValue(fv)) || (f.omitZero && fv.IsZero()) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = AppendJSONString(e.buf, f.name)
		e.buf = append(e.buf, ':')
		if err := e.value(fv.Interface()); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// fieldByIndex is reflect.Value.FieldByIndex that reports a nil embedded pointer
// (the field is then absent, as in encoding/json) instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type field struct {
	name      string
	index     []int
	omitEmpty bool
	omitZero  bool
	tagged    bool
}

var (
	fieldCache   sync.Map // reflect.Type -> []field
	binaryCache  sync.Map // reflect.Type -> bool
	errStringOpt = fmt.Errorf("%w: the \",string\" json option on a struct holding []byte", ErrUnsupportedValue)
)

// structFields lists the JSON fields of struct type t in encoding/json order.
func structFields(t reflect.Type) ([]field, error) {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field), nil
	}
	var all []field
	var walk func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool) error
	walk = func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool) error {
		if seen[t] {
			return nil
		}
		seen[t] = true
		defer delete(seen, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					if err := walk(ft, append(slices.Clone(index), i), depth+1, seen); err != nil {
						return err
					}
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := field{name: name, index: append(slices.Clone(index), i), tagged: name != ""}
			if f.name == "" {
				f.name = sf.Name
			}
			for opts != "" {
				var o string
				o, opts, _ = strings.Cut(opts, ",")
				switch o {
				case "omitempty":
					f.omitEmpty = true
				case "omitzero":
					f.omitZero = true
				case "string":
					return errStringOpt
				}
			}
			all = append(all, f)
		}
		return nil
	}
	if err := walk(t, nil, 0, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}
	// Go's precedence: for each name keep the shallowest field, a tagged one winning a
	// tie; a remaining tie drops the name altogether.
	byName := map[string][]field{}
	for _, f := range all {
		byName[f.name] = append(byName[f.name], f)
	}
	var out []field
	for _, f := range all {
		best, ok := dominant(byName[f.name])
		if ok && slices.Equal(best.index, f.index) {
			out = append(out, f)
		}
	}
	fieldCache.Store(t, out)
	return out, nil
}

func dominant(fs []field) (field, bool) {
	minDepth := len(fs[0].index)
	for _, f := range fs {
		minDepth = min(minDepth, len(f.index))
	}
	var cands []field
	for _, f := range fs {
		if len(f.index) == minDepth {
			cands = append(cands, f)
		}
	}
	if len(cands) == 1 {
		return cands[0], true
	}
	var tagged []field
	for _, f := range cands {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return field{}, false
}

// mayHoldBinary reports whether a value of type t can contain a []byte that EncodeArgs
// must extract. Interfaces may hold anything; Marshalers encode themselves.
func mayHoldBinary(t reflect.Type) bool {
	if b, ok := binaryCache.Load(t); ok {
		return b.(bool)
	}
	b := holdsBinary(t, map[reflect.Type]bool{})
	binaryCache.Store(t, b)
	return b
}

func holdsBinary(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return false
	}
	if seen[t] {
		return false // recursive type: the first visit answers
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8 || holdsBinary(t.Elem(), seen)
	case reflect.Pointer, reflect.Array:
		return holdsBinary(t.Elem(), seen)
	case reflect.Map:
		return holdsBinary(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if (sf.IsExported() || sf.Anonymous) && sf.Tag.Get("json") != "-" && holdsBinary(sf.Type, seen) {
				return true
			}
		}
	}
	return false
}

// AppendJSONString appends s as a JSON string the way JavaScript's JSON.stringify
// writes it: only '"', '\\' and control characters are escaped (short forms where
// JSON has them, \u00xx otherwise); invalid UTF-8 becomes U+FFFD like in
// encoding/json (and as Node's Buffer.toString makes it).
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...) // the character itself, as JSON.stringify writes a JS string holding it
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
