package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// DecodeArgs decodes a JSON array payload into []any and puts the attachments back in
// place of their placeholders.
//
// Values come out as encoding/json makes them: numbers as float64 (like JavaScript, so
// integers beyond 2^53 lose precision; use RawArgs to decode such values yourself),
// strings, bool, nil, map[string]any and []any. A placeholder becomes the attachment
// []byte itself, not a copy; a placeholder used twice yields the same slice twice.
//
// As in socket.io-parser, an object counts as a placeholder when its "_placeholder" is
// true; its "num" must then be an integer index into attachments, or DecodeArgs fails.
// With no attachments at all nothing is replaced: socket.io-parser does not reconstruct
// packets without attachments either, so a text EVENT carrying an object that looks
// like a placeholder delivers that object as it is.
func DecodeArgs(data json.RawMessage, attachments [][]byte) ([]any, error) {
	data = bytes.TrimLeft(data, jsonSpace)
	if len(data) == 0 || data[0] != '[' {
		return nil, invalidf("arguments must be a JSON array")
	}
	var args []any
	if err := json.Unmarshal(data, &args); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || !strings.HasPrefix(te.Value, "number") {
			return nil, invalidf("invalid JSON arguments: %v", err)
		}
		// A number beyond float64 (1e700): JavaScript's JSON.parse makes
		// it ±Infinity, and so do we (found by FuzzDecoder).
		if args, err = decodeHugeNumbers(data); err != nil {
			return nil, invalidf("invalid JSON arguments: %v", err)
		}
	}
	if args == nil {
		args = []any{}
	}
	if len(attachments) == 0 {
		return args, nil
	}
	for i, a := range args {
		v, err := reconstruct(a, attachments)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return args, nil
}

// decodeHugeNumbers decodes data keeping numbers as json.Number, then
// turns them into float64 as JSON.parse does: out of range is ±Inf.
func decodeHugeNumbers(data []byte) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var args []any
	if err := dec.Decode(&args); err != nil {
		return nil, err
	}
	var conv func(v any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			f, _ := strconv.ParseFloat(string(x), 64) // ±Inf with ErrRange past float64
			return f
		case []any:
			for i := range x {
				x[i] = conv(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = conv(x[k])
			}
		}
		return v
	}
	for i := range args {
		args[i] = conv(args[i])
	}
	return args, nil
}

// reconstruct replaces placeholders in v by attachments, in place where it can.
func reconstruct(v any, attachments [][]byte) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ph, ok := x["_placeholder"].(bool); ok && ph {
			num, ok := x["num"].(float64)
			if !ok || num < 0 || num >= float64(len(attachments)) || num != math.Trunc(num) {
				return nil, invalidf("placeholder num %v does not refer to one of %d attachment(s)",
					x["num"], len(attachments))
			}
			return attachments[int(num)], nil
		}
		for k, e := range x {
			r, err := reconstruct(e, attachments)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := reconstruct(e, attachments)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

// RawArgs splits a JSON array payload into its elements without decoding them, for
// handlers that unmarshal into their own types. The elements alias data, without
// surrounding white space; placeholders are left as they are.
func RawArgs(data json.RawMessage) ([]json.RawMessage, error) {
	data = bytes.Trim(data, jsonSpace) // not TrimSpace: JSON knows only these four
	if len(data) == 0 || data[0] != '[' {
		return nil, invalidf("arguments must be a JSON array")
	}
	if !json.Valid(data) {
		return nil, invalidf("invalid JSON arguments")
	}
	// data is now known to be one valid array, so the scan below needs no checks.
	var out []json.RawMessage
	i := skipSpace(data, 1)
	if data[i] == ']' {
		return []json.RawMessage{}, nil
	}
	for {
		end := skipValue(data, i)
		out = append(out, json.RawMessage(data[i:end:end]))
		i = skipSpace(data, end)
		if data[i] == ']' {
			return out, nil
		}
		i = skipSpace(data, i+1) // past ','
	}
}

// EventName returns the event name of an EVENT payload: its first element, a string.
// socket.io-parser also lets a number through (JavaScript emits a number as such); then
// isNumber is true and name is the number as written. It looks at the first element
// only, so it is cheap on large payloads.
func EventName(data json.RawMessage) (name string, isNumber bool, err error) {
	return eventName(data)
}

func eventName(data []byte) (string, bool, error) {
	tok, isNumber, err := eventNameToken(data)
	if err != nil || isNumber || bytes.IndexByte(tok, '\\') < 0 {
		return string(tok), isNumber, err
	}
	var s string
	if err := json.Unmarshal(append([]byte{'"'}, append(tok, '"')...), &s); err != nil {
		return "", false, invalidf("invalid event name: %v", err)
	}
	return s, false, nil
}

// eventNameToken returns the first element of an array: a number as written, or the
// contents of a string still escaped (the decoder checks it without allocating).
func eventNameToken(data []byte) (tok []byte, isNumber bool, err error) {
	const what = "EVENT payload must be an array starting with the event name"
	data = bytes.TrimLeft(data, jsonSpace)
	if len(data) == 0 || data[0] != '[' {
		return nil, false, invalidf(what)
	}
	i := skipSpace(data, 1)
	if i >= len(data) {
		return nil, false, invalidf(what)
	}
	switch c := data[i]; {
	case c == '"':
		end := skipString(data, i)
		if end > len(data) {
			return nil, false, invalidf(what)
		}
		return data[i+1 : end-1], false, nil
	case c == '-' || isDigit(c):
		end := skipValue(data, i)
		if !json.Valid(data[i:end]) {
			return nil, false, invalidf("invalid event name %q", data[i:end])
		}
		return data[i:end], true, nil
	default:
		return nil, false, invalidf(what)
	}
}

const jsonSpace = " \t\r\n"

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at data[i] == '"', or
// len(data)+1 if it is not terminated.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data) + 1
}

// skipValue returns the index after the JSON value starting at data[i]. On invalid
// input it stops somewhere at or before len(data) without panicking.
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return min(skipString(data, i), len(data))
	case '[', '{':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(data)
	default: // number, true, false, null
		for i < len(data) {
			switch data[i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return i
	}
}

// EncodeEvent is EncodeArgs with the event name first.
func EncodeEvent(event string, args ...any) (data json.RawMessage, attachments [][]byte, err error) {
	e := argsEncoder{buf: make([]byte, 0, 64)}
	e.buf = append(e.buf, '[')
	e.buf = AppendJSONString(e.buf, event)
	for _, a := range args {
		e.buf = append(e.buf, ',')
		if err := e.value(a); err != nil {
			return nil, nil, err
		}
	}
	e.buf = append(e.buf, ']')
	return e.buf, e.attachments, nil
}

// EncodeArgs marshals values to a JSON array, as JavaScript's JSON.stringify would
// (no HTML escaping), turning every non-nil []byte into a placeholder and returning the
// attachments in order. A []byte is found at the top level and nested in maps, slices,
// arrays, pointers, interfaces and struct fields (following encoding/json: field names
// from json tags, "-", omitempty, omitzero, embedded structs; not the ",string" option);
// values implementing json.Marshaler marshal themselves, so binary inside them stays
// base64 as encoding/json makes it. A json.RawMessage is checked and inserted verbatim.
// The attachments are the caller's slices, not copies.
func EncodeArgs(args ...any) (data json.RawMessage, attachments [][]byte, err error) {
	e := argsEncoder{buf: make([]byte, 0, 64)}
	e.buf = append(e.buf, '[')
	for i, a := range args {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(a); err != nil {
			return nil, nil, err
		}
	}
	e.buf = append(e.buf, ']')
	return e.buf, e.attachments, nil
}

// ErrUnsupportedValue is wrapped by EncodeArgs errors about values it cannot encode.
var ErrUnsupportedValue = errors.New("socket.io: value cannot be encoded")
