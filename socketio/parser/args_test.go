package parser

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEncodeEventMatchesJavaScript checks EncodeEvent against payloads written by
// JSON.stringify in socket.io-parser 4.2.7 (the golden frames).
func TestEncodeEventMatchesJavaScript(t *testing.T) {
	data, atts, err := EncodeEvent("msg", "héllo <b>&amp;\"\\\n\t\x01\x1f\x7f\u2028 😀",
		1.5, -0.000001, 1e-7, 1e21, 123456789012, true, nil, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	want := "[\"msg\",\"héllo <b>&amp;\\\"\\\\\\n\\t\\u0001\\u001f\u007f\u2028 😀\",1.5,-0.000001,1e-7,1e+21,123456789012,true,null,{}]"
	if string(data) != want || atts != nil {
		t.Fatalf("EncodeEvent = %s, %q\nwant        %s", data, atts, want)
	}

	data, atts, err = EncodeEvent("upload",
		map[string]any{"file": []byte{0xde, 0xad}, "meta": map[string]any{"name": "a"}}, []byte{0xbe, 0xef})
	if err != nil {
		t.Fatal(err)
	}
	p := Packet{Type: Event, Namespace: "/admin", ID: 14, HasID: true, Data: data, Attachments: atts}
	const frame = `52-/admin,14["upload",{"file":{"_placeholder":true,"num":0},"meta":{"name":"a"}},{"_placeholder":true,"num":1}]`
	if got := Encode(&p); string(got) != frame {
		t.Fatalf("Encode = %s\nwant     %s", got, frame)
	}
	if !reflect.DeepEqual(atts, [][]byte{{0xde, 0xad}, {0xbe, 0xef}}) {
		t.Fatalf("attachments = %q", atts)
	}
}

type Meta struct {
	Name string `json:"name"`
}

type Inner struct {
	Blob  []byte `json:"blob"`
	Shade string `json:"shade,omitempty"`
}

type Embedded struct {
	Depth int    `json:"depth"`
	Name  string `json:"name"` // loses to Outer.Name (shallower)
}

type Blob []byte

type Outer struct {
	Embedded
	*Inner
	Name     string            `json:"name"`
	Skip     []byte            `json:"-"`
	Empty    []byte            `json:"empty,omitempty"`
	Zero     time.Time         `json:"zero,omitzero"`
	When     time.Time         `json:"when"`
	Raw      json.RawMessage   `json:"raw"`
	Meta     *Meta             `json:"meta"`
	NilMeta  *Meta             `json:"nilMeta"`
	Named    Blob              `json:"named"`
	Array    [2]byte           `json:"array"`
	Files    map[string][]byte `json:"files"`
	ByID     map[int]any       `json:"byId"`
	Any      any               `json:"any"`
	unexport []byte
}

func TestEncodeArgsNestedBinaryRoundTrip(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	v := Outer{
		Embedded: Embedded{Depth: 2, Name: "hidden"},
		Inner:    &Inner{Blob: []byte("in")},
		Name:     "outer",
		Skip:     []byte("skip"),
		When:     when,
		Raw:      json.RawMessage(`{"x":[1,2]}`),
		Meta:     &Meta{Name: "m"},
		Named:    Blob("named"),
		Array:    [2]byte{1, 2},
		Files:    map[string][]byte{"b": []byte("B"), "a": []byte("A")},
		ByID:     map[int]any{10: []byte("ten"), 9: "nine"},
		Any:      []any{[]byte("deep"), map[string]any{"k": []byte("v")}},
		unexport: []byte("x"),
	}
	data, atts, err := EncodeArgs("s", v, []byte("top"), json.RawMessage(`[true]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `["s",{"depth":2,"blob":{"_placeholder":true,"num":0},"name":"outer",` +
		`"when":"2024-05-06T07:08:09Z","raw":{"x":[1,2]},"meta":{"name":"m"},"nilMeta":null,` +
		`"named":{"_placeholder":true,"num":1},"array":[1,2],` +
		`"files":{"a":{"_placeholder":true,"num":2},"b":{"_placeholder":true,"num":3}},` +
		`"byId":{"10":{"_placeholder":true,"num":4},"9":"nine"},` +
		`"any":[{"_placeholder":true,"num":5},{"k":{"_placeholder":true,"num":6}}]},` +
		`{"_placeholder":true,"num":7},[true],null]`
	if string(data) != want {
		t.Fatalf("EncodeArgs =\n%s\nwant\n%s", data, want)
	}
	wantAtts := []string{"in", "named", "A", "B", "ten", "deep", "v", "top"}
	if len(atts) != len(wantAtts) {
		t.Fatalf("attachments %q, want %q", atts, wantAtts)
	}
	for i, a := range atts {
		if string(a) != wantAtts[i] {
			t.Fatalf("attachment %d = %q, want %q", i, a, wantAtts[i])
		}
	}

	args, err := DecodeArgs(data, atts)
	if err != nil {
		t.Fatal(err)
	}
	obj := args[1].(map[string]any)
	checks := map[string]any{
		"blob":  []byte("in"),
		"named": []byte("named"),
		"files": map[string]any{"a": []byte("A"), "b": []byte("B")},
		"byId":  map[string]any{"10": []byte("ten"), "9": "nine"},
		"any":   []any{[]byte("deep"), map[string]any{"k": []byte("v")}},
		"array": []any{1.0, 2.0},
		"depth": 2.0,
	}
	for k, w := range checks {
		if !reflect.DeepEqual(obj[k], w) {
			t.Errorf("decoded %s = %#v, want %#v", k, obj[k], w)
		}
	}
	if !reflect.DeepEqual(args[2], []byte("top")) || !reflect.DeepEqual(args[3], []any{true}) || args[4] != nil {
		t.Errorf("decoded tail = %#v", args[2:])
	}
}

// TestEncodeArgsMatchesEncodingJSON checks that the reflection walker, taken whenever
// a type might hold binary, writes what encoding/json writes when there is none.
func TestEncodeArgsMatchesEncodingJSON(t *testing.T) {
	type A struct {
		X int `json:"x"`
		Y any
	}
	type B struct {
		X int
		Z any
	}
	type Conflict struct {
		A
		B
		W any `json:"w,omitempty"`
		V any `json:",omitempty"`
	}
	type Tagged struct {
		A
		X string `json:"x"`
		P *A     `json:"p"`
	}
	values := []any{
		Conflict{A: A{X: 1, Y: "y"}, B: B{X: 2, Z: 3.5}},
		Tagged{A: A{X: 1, Y: []any{"a", 1.0, nil}}, X: "top", P: &A{Y: map[string]any{"q": false}}},
		map[string]any{"b": 1, "a": []string{"x"}, "c": map[string]int{"z": 1, "y": 2}},
		[]any{int8(-3), uint16(7), float32(1.25), "x<y>&z"},
		map[int]any{3: "c", -1: "m"},
		struct{ T time.Time }{time.Unix(0, 0).UTC()},
	}
	for _, v := range values {
		got, atts, err := EncodeArgs(v)
		if err != nil {
			t.Fatalf("EncodeArgs(%#v): %v", v, err)
		}
		if atts != nil {
			t.Fatalf("EncodeArgs(%#v) returned attachments %q", v, atts)
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode([]any{v}); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(b.String(), "\n"); string(got) != want {
			t.Errorf("EncodeArgs(%#v) =\n%s\nencoding/json:\n%s", v, got, want)
		}
	}
}

func TestEncodeArgsErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	type WithString struct {
		N   int    `json:"n,string"`
		Bin []byte `json:"bin"`
	}
	tests := []struct {
		name string
		arg  any
		want string
	}{
		{"NaN", nanValue(), "NaN"},
		{"bad raw message", json.RawMessage(`{`), "json.RawMessage is not valid JSON"},
		{"channel", make(chan int), "unsupported type"},
		{"cycle", cyclic, "nested more than 1000 levels"},
		{"string option", WithString{N: 1}, `",string" json option`},
		{"unsupported map key", map[[2]int][]byte{{1, 2}: nil}, "map key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := EncodeArgs(tt.arg)
			if err == nil || !errors.Is(err, ErrUnsupportedValue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EncodeArgs error = %v, want ErrUnsupportedValue containing %q", err, tt.want)
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestDecodeArgs(t *testing.T) {
	atts := [][]byte{[]byte("zero"), []byte("one")}
	tests := []struct {
		name string
		data string
		atts [][]byte
		want []any
		err  string
	}{
		{"empty", `[]`, nil, []any{}, ""},
		{"scalars", ` ["a", 1, 2.5, true, null] `, nil, []any{"a", 1.0, 2.5, true, nil}, ""},
		{"placeholders", `["a",{"_placeholder":true,"num":1},[{"x":{"_placeholder":true,"num":0}}]]`, atts,
			[]any{"a", []byte("one"), []any{map[string]any{"x": []byte("zero")}}}, ""},
		{"placeholder extra keys", `[{"num":0,"_placeholder":true,"extra":1}]`, atts, []any{[]byte("zero")}, ""},
		{"not a placeholder", `[{"_placeholder":false,"num":7},{"_placeholder":1}]`, atts,
			[]any{map[string]any{"_placeholder": false, "num": 7.0}, map[string]any{"_placeholder": 1.0}}, ""},
		{"no attachments: placeholders left alone", `[{"_placeholder":true,"num":0}]`, nil,
			[]any{map[string]any{"_placeholder": true, "num": 0.0}}, ""},
		{"num out of range", `[{"_placeholder":true,"num":2}]`, atts, nil, "placeholder num 2 does not refer to one of 2"},
		{"num fractional", `[{"_placeholder":true,"num":0.5}]`, atts, nil, "placeholder num 0.5"},
		{"num negative", `[{"_placeholder":true,"num":-1}]`, atts, nil, "placeholder num -1"},
		{"num string", `[{"a":{"_placeholder":true,"num":"1"}}]`, atts, nil, "placeholder num 1"},
		{"object", `{"a":1}`, nil, nil, "arguments must be a JSON array"},
		{"empty input", ``, nil, nil, "arguments must be a JSON array"},
		{"invalid", `["a",]`, nil, nil, "invalid JSON arguments"},
		{"trailing", `["a"]]`, nil, nil, "invalid JSON arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeArgs(json.RawMessage(tt.data), tt.atts)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrInvalidPacket) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("DecodeArgs error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeArgs = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestRawArgs(t *testing.T) {
	tests := []struct {
		data string
		want []string
		err  string
	}{
		{`[]`, []string{}, ""},
		{` [ ] `, []string{}, ""},
		{`["a"]`, []string{`"a"`}, ""},
		{`[ "a,]" , {"b":[1,"]"]} ,-1.5e3,true,null,[[]], "\"q\\" ]`,
			[]string{`"a,]"`, `{"b":[1,"]"]}`, `-1.5e3`, `true`, `null`, `[[]]`, `"\"q\\"`}, ""},
		{`["a",{"_placeholder":true,"num":0}]`, []string{`"a"`, `{"_placeholder":true,"num":0}`}, ""},
		{"[\n1\t,\r2]", []string{`1`, `2`}, ""},
		{`{}`, nil, "arguments must be a JSON array"},
		{`"a"`, nil, "arguments must be a JSON array"},
		{`[1,]`, nil, "invalid JSON arguments"},
		{`[1] [2]`, nil, "invalid JSON arguments"},
		{``, nil, "arguments must be a JSON array"},
		{"\v[1]", nil, "arguments must be a JSON array"},
	}
	for _, tt := range tests {
		got, err := RawArgs(json.RawMessage(tt.data))
		if tt.err != "" {
			if err == nil || !errors.Is(err, ErrInvalidPacket) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("RawArgs(%q) error = %v, want one containing %q", tt.data, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("RawArgs(%q): %v", tt.data, err)
			continue
		}
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = string(g)
		}
		if !reflect.DeepEqual(gs, tt.want) {
			t.Errorf("RawArgs(%q) = %q, want %q", tt.data, gs, tt.want)
		}
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		data     string
		name     string
		isNumber bool
		err      bool
	}{
		{`["chat message","hi"]`, "chat message", false, false},
		{` [ "a" ]`, "a", false, false},
		{`["\u00e9\n"]`, "é\n", false, false},
		{`["a\"b"]`, `a"b`, false, false},
		{`[42,1]`, "42", true, false},
		{`[-1.5e2]`, "-1.5e2", true, false},
		{`[]`, "", false, true},
		{`[{}]`, "", false, true},
		{`[true]`, "", false, true},
		{`["abc`, "", false, true},
		{`["\x"]`, "", false, true},
		{`[1-2]`, "", false, true},
		{`{"a":1}`, "", false, true},
		{``, "", false, true},
		{`[`, "", false, true},
	}
	for _, tt := range tests {
		name, isNumber, err := EventName(json.RawMessage(tt.data))
		if tt.err {
			if err == nil || !errors.Is(err, ErrInvalidPacket) {
				t.Errorf("EventName(%q) = %q, %v, want an error", tt.data, name, err)
			}
			continue
		}
		if err != nil || name != tt.name || isNumber != tt.isNumber {
			t.Errorf("EventName(%q) = %q, %v, %v, want %q, %v", tt.data, name, isNumber, err, tt.name, tt.isNumber)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, w)
		}
	}
	if got := Type(7).String(); got != "Type(7)" {
		t.Errorf("Type(7).String() = %q", got)
	}
	if ReservedEvent("message") || !ReservedEvent("disconnecting") {
		t.Error("ReservedEvent misclassifies")
	}
}

// Numbers beyond float64 are ±Infinity, as JavaScript's JSON.parse makes
// them (a client may send 1e700; found by FuzzDecoder).
func TestDecodeArgsHugeNumbers(t *testing.T) {
	args, err := DecodeArgs([]byte(`[1e700, -1e700, {"a": [1e400]}, 1.5]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := args[2].(map[string]any)
	inner, _ := m["a"].([]any)
	if len(args) != 4 || !math.IsInf(args[0].(float64), 1) || !math.IsInf(args[1].(float64), -1) ||
		len(inner) != 1 || !math.IsInf(inner[0].(float64), 1) || args[3] != 1.5 {
		t.Fatalf("DecodeArgs = %#v", args)
	}
	if _, err := DecodeArgs([]byte(`[1e700, tru]`), nil); err == nil {
		t.Fatal("invalid JSON after a huge number accepted")
	}
}
