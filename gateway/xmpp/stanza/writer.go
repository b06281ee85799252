package stanza

import (
	"unicode/utf8"
)

// Builder appends XML to B. Attributes are given as name, value pairs; a
// pair whose value is empty is left out. Values and text are escaped.
type Builder struct{ B []byte }

// Start writes a start tag.
func (b *Builder) Start(name string, kv ...string) *Builder {
	b.B = append(b.B, '<')
	b.B = append(b.B, name...)
	b.attrs(kv)
	b.B = append(b.B, '>')
	return b
}

// Empty writes an empty element.
func (b *Builder) Empty(name string, kv ...string) *Builder {
	b.B = append(b.B, '<')
	b.B = append(b.B, name...)
	b.attrs(kv)
	b.B = append(b.B, '/', '>')
	return b
}

// End writes an end tag.
func (b *Builder) End(name string) *Builder {
	b.B = append(b.B, '<', '/')
	b.B = append(b.B, name...)
	b.B = append(b.B, '>')
	return b
}

// Elem writes <name attrs>text</name>.
func (b *Builder) Elem(name, text string, kv ...string) *Builder {
	b.Start(name, kv...)
	b.Text(text)
	return b.End(name)
}

// Text writes escaped character data.
func (b *Builder) Text(s string) *Builder {
	b.B = AppendEscaped(b.B, s)
	return b
}

// Raw writes s as it is (trusted XML).
func (b *Builder) Raw(s string) *Builder {
	b.B = append(b.B, s...)
	return b
}

func (b *Builder) attrs(kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b.B = append(b.B, ' ')
		b.B = append(b.B, kv[i]...)
		b.B = append(b.B, '=', '\'')
		b.B = AppendEscaped(b.B, kv[i+1])
		b.B = append(b.B, '\'')
	}
}

// Attr writes one attribute (even an empty one) into an open start tag
// written with Raw.
func (b *Builder) Attr(name, value string) *Builder {
	b.B = append(b.B, ' ')
	b.B = append(b.B, name...)
	b.B = append(b.B, '=', '\'')
	b.B = AppendEscaped(b.B, value)
	b.B = append(b.B, '\'')
	return b
}

// AppendEscaped appends s escaped for XML text and attribute values
// (either quote). Characters XML 1.0 cannot carry (most C0 controls,
// invalid UTF-8) become U+FFFD.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				dst = append(dst, "&amp;"...)
			case '<':
				dst = append(dst, "&lt;"...)
			case '>':
				dst = append(dst, "&gt;"...)
			case '\'':
				dst = append(dst, "&apos;"...)
			case '"':
				dst = append(dst, "&quot;"...)
			case '\t', '\n':
				dst = append(dst, c)
			case '\r':
				dst = append(dst, "&#xD;"...)
			default:
				if c < 0x20 {
					dst = append(dst, "\uFFFD"...)
				} else {
					dst = append(dst, c)
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// Serialize appends e as XML. xmlns is written on e (and on children
// whose namespace differs from their parent's).
func (e *Element) Serialize(dst []byte, parentNS string) []byte {
	b := Builder{B: dst}
	b.B = append(b.B, '<')
	b.B = append(b.B, e.Local...)
	if e.Space != parentNS {
		b.Attr("xmlns", e.Space)
	}
	for _, a := range e.Attr {
		name := a.Name.Local
		switch a.Name.Space {
		case "":
		case "http://www.w3.org/XML/1998/namespace":
			name = "xml:" + name
		default:
			continue // attributes in other namespaces are rare in stanzas: dropped
		}
		b.Attr(name, a.Value)
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.B = append(b.B, '/', '>')
		return b.B
	}
	b.B = append(b.B, '>')
	b.Text(e.Text)
	for _, c := range e.Children {
		b.B = c.Serialize(b.B, e.Space)
	}
	b.End(e.Local)
	return b.B
}
