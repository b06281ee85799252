package mqttgw

import (
	"errors"
	"fmt"
)

// The connection-level parser: it cuts the byte stream of one connection
// into MQTT control packets (fixed header, Remaining Length, body) and
// hands each complete packet on. It decodes nothing else: bodies are
// decoded by mochi's packets codec. Pure: bytes in, packets out.

// Framer errors. A stream that produced one of them is unusable: the
// connection is closed (MQTT 5: after a DISCONNECT with the reason code of
// the error).
var (
	// ErrPacketTooLarge: a packet whose Remaining Length is above the
	// limit, refused as soon as its fixed header is read (nothing of it is
	// buffered). MQTT 5 reason 0x95.
	ErrPacketTooLarge = errors.New("mqttgw: packet too large")
	// ErrMalformedLength: a Remaining Length of more than four bytes
	// (MQTT 1.5.5). MQTT 5 reason 0x81.
	ErrMalformedLength = errors.New("mqttgw: malformed remaining length")
)

// maxHeader is the longest fixed header: one byte of type and flags and
// four of Remaining Length.
const maxHeader = 5

// rawPacket is one complete control packet: its first byte and its body
// (everything after the Remaining Length). body is the packet's own copy:
// mochi's decoders return strings that alias it, so it is never reused.
type rawPacket struct {
	header byte
	body   []byte
}

// framer accumulates the bytes of an incomplete packet between reads. It
// holds nothing between packets: an idle connection's framer is empty.
type framer struct {
	partial []byte // a fixed header and part of a body, or part of a fixed header
}

// feed consumes data (which it does not retain) and appends every packet it
// completes to pkts. limit is the largest Remaining Length accepted. After an
// error the framer must not be used again; the packets completed before
// the bad one are returned with it.
func (f *framer) feed(data []byte, limit int, pkts []rawPacket) ([]rawPacket, error) {
	if len(f.partial) > 0 {
		// Complete the pending packet first, taking only its bytes.
		need, err := f.pendingNeed(limit)
		if err != nil {
			return pkts, err
		}
		if need < 0 { // the fixed header is still incomplete: add a byte at a time
			for need < 0 && len(data) > 0 {
				f.partial = append(f.partial, data[0])
				data = data[1:]
				if need, err = f.pendingNeed(limit); err != nil {
					return pkts, err
				}
			}
			if need < 0 {
				return pkts, nil
			}
		}
		take := min(need, len(data))
		f.partial = append(f.partial, data[:take]...)
		data = data[take:]
		if take < need {
			return pkts, nil
		}
		hdr, n, _, _ := parseHeader(f.partial, limit)
		body := f.partial[n:]
		if cap(body) > 2*len(body)+64 { // do not keep a large buffer for a small packet
			body = append([]byte(nil), body...)
		}
		pkts = append(pkts, rawPacket{header: hdr, body: body[:len(body):len(body)]})
		f.partial = nil
	}
	for len(data) > 0 {
		hdr, n, remaining, err := parseHeader(data, limit)
		if err != nil {
			return pkts, err
		}
		if n == 0 || len(data) < n+remaining { // incomplete: keep it
			f.partial = make([]byte, len(data), max(len(data), min(n+remaining, 512)))
			copy(f.partial, data)
			return pkts, nil
		}
		body := make([]byte, remaining)
		copy(body, data[n:n+remaining])
		pkts = append(pkts, rawPacket{header: hdr, body: body})
		data = data[n+remaining:]
	}
	return pkts, nil
}

// pendingNeed returns how many more bytes the pending packet needs, or -1
// while its fixed header is incomplete.
func (f *framer) pendingNeed(limit int) (int, error) {
	_, n, remaining, err := parseHeader(f.partial, limit)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return -1, nil
	}
	return n + remaining - len(f.partial), nil
}

// buffered returns the bytes of the incomplete packet held.
func (f *framer) buffered() int { return len(f.partial) }

// parseHeader reads the fixed header at the start of b: the first byte, the
// header's length n (0 if b ends before the header does) and the Remaining
// Length.
func parseHeader(b []byte, limit int) (hdr byte, n, remaining int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, nil
	}
	mult := 1
	for i := 1; i < maxHeader; i++ {
		if i >= len(b) {
			return b[0], 0, 0, nil
		}
		remaining += int(b[i]&0x7f) * mult
		if remaining > limit {
			return b[0], 0, 0, fmt.Errorf("%w: more than %d bytes", ErrPacketTooLarge, limit)
		}
		if b[i]&0x80 == 0 {
			return b[0], i + 1, remaining, nil
		}
		mult *= 128
	}
	return b[0], 0, 0, ErrMalformedLength
}

// appendLength appends n as an MQTT Variable Byte Integer.
func appendLength(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}
