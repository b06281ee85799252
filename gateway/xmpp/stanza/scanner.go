// Package stanza is the XMPP gateway's pure codec: it splits a client's
// byte stream into the stream header and complete top-level elements
// (Scanner), parses one element from memory (Parse), writes XML (the
// Append functions) and handles JIDs (ParseJID, EscapeLocal). It does no
// I/O and starts no goroutine.
//
// Parsing is bounded: a Scanner holds at most MaxStanza bytes of an
// incomplete element and refuses deeper nesting than MaxDepth; comments,
// processing instructions and DTDs, which RFC 6120 section 11.1 forbids,
// are refused, so no entity can be declared and only the five predefined
// ones and character references exist (encoding/xml's strict mode).
//
// Concurrency: a Scanner is used by one goroutine at a time; the other
// functions are safe for concurrent use.
package stanza

import (
	"errors"
	"fmt"
)

// Kind is what a Scanner found.
type Kind uint8

const (
	// KindOpen: the stream header (the start tag of <stream:stream>, with
	// the XML declaration before it, if any).
	KindOpen Kind = iota + 1
	// KindElement: one complete top-level element (a stanza, or a
	// negotiation element such as <auth/>).
	KindElement
	// KindClose: the stream's end tag.
	KindClose
)

// Errors of the Scanner. They are all fatal for the stream.
var (
	ErrTooLarge      = errors.New("stanza too large")
	ErrTooDeep       = errors.New("stanza nested too deeply")
	ErrRestricted    = errors.New("restricted XML (comment, processing instruction or DTD)")
	ErrNotWellFormed = errors.New("not well-formed XML")
)

// Limits of a Scanner when its fields are zero.
const (
	DefaultMaxStanza = 64 << 10
	DefaultMaxDepth  = 32
	maxHeader        = 4 << 10
)

// state of the byte-level scanner.
type state uint8

const (
	stText       state = iota // between tags
	stLT                      // after '<'
	stStart                   // inside a start tag
	stEnd                     // inside an end tag
	stBang                    // after "<!": matching "[CDATA["
	stCDATA                   // inside a CDATA section
	stPI                      // inside the XML declaration (prolog only)
	stAfterSlash              // in a start tag, after '/' outside quotes
)

// Scanner finds element boundaries in an XMPP stream (RFC 6120 section 4):
// a prolog (an optional XML declaration and the stream header), then
// top-level elements, then the stream's end tag. It keeps only the bytes
// of the element it is inside of; between elements it holds nothing.
type Scanner struct {
	MaxStanza int // bytes of one element; default DefaultMaxStanza
	MaxDepth  int // nesting below the stream element; default DefaultMaxDepth

	st      state
	depth   int  // 0: before the header; 1: inside the stream; 2+: inside an element
	inHead  bool // scanning the prolog
	declOK  bool // an XML declaration may still come
	quote   byte // the quote character of the attribute value we are in, or 0
	bang    int  // characters of "[CDATA[" matched
	brack   int  // consecutive ']' in CDATA
	qmark   bool // previous byte in a PI was '?'
	endTop  bool // the end tag being scanned closes the stream
	buf     []byte
	pending bool // buf holds the start of an element (or the header)
	n       int  // bytes of the current element so far
	closed  bool
}

// Reset makes the scanner expect a new stream header, as after STARTTLS
// or SASL success (RFC 6120 sections 5.4.3.3 and 6.4.6).
func (s *Scanner) Reset() {
	*s = Scanner{MaxStanza: s.MaxStanza, MaxDepth: s.MaxDepth}
}

// Idle reports whether the scanner is between elements (it holds no
// partial element).
func (s *Scanner) Idle() bool { return !s.pending && s.st == stText }

// ErrStop, returned by Feed's callback, makes Feed return at once after
// the element that callback was called for.
var ErrStop = errors.New("stop")

func (s *Scanner) limits() (int, int) {
	ms, md := s.MaxStanza, s.MaxDepth
	if ms <= 0 {
		ms = DefaultMaxStanza
	}
	if md <= 0 {
		md = DefaultMaxDepth
	}
	return ms, md
}

// Feed scans p and calls emit for each complete item, with data owned by
// the callee (the header, an element, or the end tag). It returns the
// number of bytes of p consumed: len(p), or fewer when emit returned
// ErrStop (then err is nil) or on an error (emit's, or a Scanner error).
// After an error or the stream's end tag the scanner must not be fed
// again (KindClose: further bytes are an error).
func (s *Scanner) Feed(p []byte, emit func(kind Kind, data []byte) error) (int, error) {
	maxStanza, maxDepth := s.limits()
	if s.depth == 0 && !s.inHead && !s.pending {
		s.inHead, s.declOK = true, true
	}
	start := 0 // start in p of the current element's bytes not yet in buf
	flush := func(i int) {
		if s.pending {
			s.buf = append(s.buf, p[start:i]...)
		}
		start = i
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.pending {
			s.n++
			limit := maxStanza
			if s.inHead {
				limit = maxHeader
			}
			if s.n > limit {
				return i, ErrTooLarge
			}
		}
		switch s.st {
		case stText:
			if c == '<' {
				s.st = stLT
				if s.depth <= 1 && !s.pending { // a new top-level item starts here
					s.pending, s.n, start = true, 1, i
					s.buf = s.buf[:0]
				}
				continue
			}
			if s.closed {
				return i, ErrNotWellFormed
			}
			if s.depth <= 1 && !isSpace(c) {
				// Text at the top level: only white space (keepalives).
				return i, ErrNotWellFormed
			}
		case stLT:
			switch c {
			case '/':
				s.st = stEnd
				s.endTop = s.depth == 1
				if s.depth == 0 {
					return i, ErrNotWellFormed
				}
			case '!':
				if s.depth <= 1 {
					return i, ErrRestricted // DOCTYPE or comment at the top level
				}
				s.st, s.bang = stBang, 0
			case '?':
				if !s.declOK {
					return i, ErrRestricted
				}
				s.st, s.qmark, s.declOK = stPI, false, false
			default:
				if !isNameStart(c) {
					return i, ErrNotWellFormed
				}
				if s.closed {
					return i, ErrNotWellFormed
				}
				s.st = stStart
				s.declOK = false
			}
		case stStart, stAfterSlash:
			if s.quote != 0 {
				if c == s.quote {
					s.quote = 0
				} else if c == '<' {
					return i, ErrNotWellFormed
				}
				continue
			}
			switch c {
			case '"', '\'':
				s.quote = c
				s.st = stStart
			case '/':
				s.st = stAfterSlash
			case '>':
				selfClosing := s.st == stAfterSlash
				s.st = stText
				if selfClosing {
					if s.depth == 0 {
						return i, ErrNotWellFormed // <stream:stream/>
					}
					if s.depth > maxDepth {
						return i, ErrTooDeep
					}
					if s.depth == 1 {
						if err := s.complete(p, &start, i, KindElement, flush, emit); err != nil {
							return s.stopAt(i, err)
						}
					}
					continue
				}
				s.depth++
				if s.depth-1 > maxDepth {
					return i, ErrTooDeep
				}
				if s.depth == 1 { // the stream header
					s.inHead = false
					if err := s.complete(p, &start, i, KindOpen, flush, emit); err != nil {
						return s.stopAt(i, err)
					}
				}
			case '<':
				return i, ErrNotWellFormed
			default:
				s.st = stStart
			}
		case stEnd:
			if c == '>' {
				s.st = stText
				s.depth--
				switch {
				case s.endTop: // </stream:stream>
					s.closed = true
					if err := s.complete(p, &start, i, KindClose, flush, emit); err != nil {
						return s.stopAt(i, err)
					}
				case s.depth == 1:
					if err := s.complete(p, &start, i, KindElement, flush, emit); err != nil {
						return s.stopAt(i, err)
					}
				}
			} else if c == '<' {
				return i, ErrNotWellFormed
			}
		case stBang:
			const cdata = "[CDATA["
			if c != cdata[s.bang] {
				return i, ErrRestricted // a comment or a DTD inside an element
			}
			s.bang++
			if s.bang == len(cdata) {
				s.st, s.brack = stCDATA, 0
			}
		case stCDATA:
			switch {
			case c == ']':
				s.brack++
			case c == '>' && s.brack >= 2:
				s.st = stText
			default:
				s.brack = 0
			}
		case stPI:
			if c == '>' && s.qmark {
				s.st = stText
			}
			s.qmark = c == '?'
		}
	}
	flush(len(p))
	return len(p), nil
}

// stopAt turns emit's ErrStop into a clean return after byte i.
func (s *Scanner) stopAt(i int, err error) (int, error) {
	if err == ErrStop {
		return i + 1, nil
	}
	return i + 1, err
}

// complete emits the item ending at p[i].
func (s *Scanner) complete(p []byte, start *int, i int, kind Kind, flush func(int), emit func(Kind, []byte) error) error {
	var data []byte
	if len(s.buf) == 0 {
		data = append([]byte(nil), p[*start:i+1]...)
	} else {
		flush(i + 1)
		data = s.buf
	}
	s.buf, s.pending, s.n = nil, false, 0
	*start = i + 1
	if kind == KindOpen {
		data = trimProlog(data)
	}
	return emit(kind, data)
}

// trimProlog drops white space before the header (it may follow the XML
// declaration, which is kept: Parse skips it).
func trimProlog(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

// Describe returns a short description of a Scanner error for a stream
// error's text.
func Describe(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return "stanza too large"
	case errors.Is(err, ErrTooDeep):
		return "stanza nested too deeply"
	case errors.Is(err, ErrRestricted):
		return "comments, processing instructions and DTDs are not allowed (RFC 6120 11.1)"
	}
	return fmt.Sprintf("%v", err)
}
