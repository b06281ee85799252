package stanza

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// Namespaces used by the gateway.
const (
	NSClient    = "jabber:client"
	NSStream    = "http://etherx.jabber.org/streams"
	NSFraming   = "urn:ietf:params:xml:ns:xmpp-framing" // RFC 7395
	NSTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession   = "urn:ietf:params:xml:ns:xmpp-session"
	NSStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams   = "urn:ietf:params:xml:ns:xmpp-streams"
	NSRoster    = "jabber:iq:roster"
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
	NSDiscoItem = "http://jabber.org/protocol/disco#items"
	NSCaps      = "http://jabber.org/protocol/caps"
	NSPing      = "urn:xmpp:ping"
	NSChatState = "http://jabber.org/protocol/chatstates"
	NSMUC       = "http://jabber.org/protocol/muc"
	NSMUCUser   = "http://jabber.org/protocol/muc#user"
	NSMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	NSMUCOwner  = "http://jabber.org/protocol/muc#owner"
	NSMAM       = "urn:xmpp:mam:2"
	NSRSM       = "http://jabber.org/protocol/rsm"
	NSData      = "jabber:x:data"
	NSForward   = "urn:xmpp:forward:0"
	NSDelay     = "urn:xmpp:delay"
	NSSID       = "urn:xmpp:sid:0" // XEP-0359
	NSCarbons   = "urn:xmpp:carbons:2"
	NSSM        = "urn:xmpp:sm:3"
	NSVersion   = "jabber:iq:version"
	NSVCard     = "vcard-temp"
	NSRetract   = "urn:xmpp:message-retract:1"
	NSModerate  = "urn:xmpp:message-moderate:1"
	NSHints     = "urn:xmpp:hints"
	NSCSI       = "urn:xmpp:csi:0" // XEP-0352
)

// Element is a parsed XML element: its resolved name, attributes (names
// resolved too: xmlns declarations are not kept), child elements and the
// character data directly inside it (concatenated).
type Element struct {
	Space, Local string
	Attr         []xml.Attr
	Children     []*Element
	Text         string
}

// Get returns the value of the attribute local (no namespace), "" if absent.
func (e *Element) Get(local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == e.Space) {
			return a.Value
		}
	}
	return ""
}

// GetNS returns the value of the attribute in namespace space.
func (e *Element) GetNS(space, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value
		}
	}
	return ""
}

// Has reports whether the attribute local is present.
func (e *Element) Has(local string) bool {
	for _, a := range e.Attr {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == e.Space) {
			return true
		}
	}
	return false
}

// Child returns the first child with that name (space "" matches any).
func (e *Element) Child(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Local == local && (space == "" || c.Space == space) {
			return c
		}
	}
	return nil
}

// ChildText is the text of Child(space, local), "" if absent.
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text
	}
	return ""
}

// Is reports whether the element has that name.
func (e *Element) Is(space, local string) bool {
	return e != nil && e.Local == local && e.Space == space
}

// ErrDepth is returned by Parse for an element nested deeper than allowed.
var ErrDepth = errors.New("element nested too deeply")

// prefixTCP resolves what a stanza of a TCP stream inherits from its
// stream header: the default namespace and the stream prefix.
const prefixTCP = `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`

// Parse parses one complete element as a Scanner delivers it, in the
// namespace context of a jabber:client stream (RFC 6120): no namespace
// means jabber:client, and the prefix "stream" is the stream namespace.
// maxDepth bounds nesting (0: DefaultMaxDepth). Only the predefined
// entities and character references are understood; a DTD, comment or
// processing instruction is an error.
func Parse(data []byte, maxDepth int) (*Element, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := xml.NewDecoder(&prefixed{prefix: prefixTCP, data: data})
	d.Strict = true
	tok, err := d.Token() // the synthetic stream element
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(xml.StartElement); !ok {
		return nil, ErrNotWellFormed
	}
	return parseFrom(d, maxDepth, 1)
}

// prefixed reads prefix, then data. It is an io.ByteReader, which
// encoding/xml reads as it is: no bufio.Reader (4 KiB) per element.
type prefixed struct {
	prefix string
	data   []byte
}

func (r *prefixed) ReadByte() (byte, error) {
	if len(r.prefix) > 0 {
		c := r.prefix[0]
		r.prefix = r.prefix[1:]
		return c, nil
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c, nil
}

func (r *prefixed) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// ParseHeader parses a stream header (KindOpen: an optional XML
// declaration, then the start tag of the stream element) or a WebSocket
// <open/> element. It returns the element's attributes and name; the
// element has no children.
func ParseHeader(data []byte) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, ErrRestricted
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, ErrNotWellFormed
			}
		case xml.StartElement:
			return &Element{Space: t.Name.Space, Local: t.Name.Local, Attr: attrs(t.Attr)}, nil
		default:
			return nil, ErrRestricted
		}
	}
}

// ParseFramed parses one WebSocket message (RFC 7395): a complete XML
// element that declares its own namespaces; a stanza without one is taken
// as jabber:client.
func ParseFramed(data []byte, maxDepth int) (*Element, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	el, err := parseFrom(d, maxDepth, 0)
	if err != nil {
		return nil, err
	}
	// Nothing but white space may follow.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			return nil, ErrNotWellFormed
		}
	}
	if el.Space == "" {
		setDefaultNS(el, NSClient)
	}
	return el, nil
}

func setDefaultNS(e *Element, ns string) {
	e.Space = ns
	for _, c := range e.Children {
		if c.Space == "" {
			setDefaultNS(c, ns)
		}
	}
}

// parseFrom reads the next element from d (skipping white space before
// it; base is the depth of the synthetic parent).
func parseFrom(d *xml.Decoder, maxDepth, base int) (*Element, error) {
	var stack []*Element
	var root *Element
	var text [][]byte // character data of each open element
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, ErrNotWellFormed
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack)+1 > maxDepth {
				return nil, ErrDepth
			}
			el := &Element{Space: t.Name.Space, Local: t.Name.Local, Attr: attrs(t.Attr)}
			if dupAttr(el.Attr) {
				return nil, ErrNotWellFormed
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, el)
			} else {
				root = el
			}
			stack = append(stack, el)
			text = append(text, nil)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, ErrNotWellFormed
			}
			el := stack[len(stack)-1]
			el.Text = string(text[len(text)-1])
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
			if len(stack) == 0 {
				return root, nil
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, ErrNotWellFormed
				}
				continue
			}
			text[len(text)-1] = append(text[len(text)-1], t...)
		case xml.Comment, xml.ProcInst, xml.Directive:
			return nil, ErrRestricted
		}
	}
}

func dupAttr(as []xml.Attr) bool {
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			if as[i].Name == as[j].Name {
				return true
			}
		}
	}
	return false
}

// attrs drops namespace declarations and copies the rest.
func attrs(in []xml.Attr) []xml.Attr {
	var out []xml.Attr
	for _, a := range in {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}
