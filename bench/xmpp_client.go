package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// A minimal XMPP client for the XMPP scenarios (xmpp.go,
// xmpp_fanout.go): the stream, STARTTLS (any certificate: both servers of
// a run use the same self-signed one), SASL ANONYMOUS, resource binding
// and initial presence, then raw stanzas. It speaks to Banter and to
// prosody alike.

// xmppOpts says how clients log in.
type xmppOpts struct {
	domain string
	tls    bool // STARTTLS
	// sessions, when set, keeps the server's TLS session tickets: the
	// next login through the same cache resumes the session (a returning
	// device) instead of a full handshake.
	sessions tls.ClientSessionCache
}

// xconn is one logged-in XMPP connection.
type xconn struct {
	nc   net.Conn
	sc   stanza.Scanner
	buf  []byte
	q    [][]byte // elements read but not yet taken
	jid  string
	rerr error
	// With TLS: whether the session was resumed, and the server
	// certificate's key type.
	resumed bool
	keyAlg  x509.PublicKeyAlgorithm
}

var errXMPPStream = errors.New("xmpp stream")

// xmppLogin connects from src and logs in anonymously (trace: nick, which
// Banter takes as the nickname; prosody makes one up).
func xmppLogin(ctx context.Context, addr string, src net.IP, o xmppOpts, nick string) (*xconn, error) {
	d := net.Dialer{}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := &xconn{nc: nc, buf: make([]byte, 4096)}
	fail := func(err error) (*xconn, error) { nc.Close(); return nil, err }
	open := func() error {
		c.sc.Reset()
		c.q = nil
		if _, err := fmt.Fprintf(c.nc, "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", o.domain); err != nil {
			return err
		}
		_, err := c.expect("<stream:features")
		return err
	}
	if err := open(); err != nil {
		return fail(err)
	}
	if o.tls {
		if _, err := c.nc.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")); err != nil {
			return fail(err)
		}
		if _, err := c.expect("<proceed"); err != nil {
			return fail(err)
		}
		tc := tls.Client(c.nc, &tls.Config{ServerName: o.domain, InsecureSkipVerify: true, ClientSessionCache: o.sessions}) //nolint:gosec // the benchmark's own self-signed certificate
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		st := tc.ConnectionState()
		c.resumed = st.DidResume
		if len(st.PeerCertificates) > 0 {
			c.keyAlg = st.PeerCertificates[0].PublicKeyAlgorithm
		}
		c.nc = tc
		if err := open(); err != nil {
			return fail(err)
		}
	}
	auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>" + base64.StdEncoding.EncodeToString([]byte(nick)) + "</auth>"
	if nick == "" {
		auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>"
	}
	if _, err := c.nc.Write([]byte(auth)); err != nil {
		return fail(err)
	}
	if el, err := c.expect("<success", "<failure"); err != nil {
		return fail(err)
	} else if bytes.HasPrefix(el, []byte("<failure")) {
		return fail(fmt.Errorf("%w: SASL: %s", errXMPPStream, el))
	}
	if err := open(); err != nil {
		return fail(err)
	}
	if _, err := c.nc.Write([]byte("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")); err != nil {
		return fail(err)
	}
	el, err := c.expect("<iq")
	if err != nil {
		return fail(err)
	}
	i, j := bytes.Index(el, []byte("<jid>")), bytes.Index(el, []byte("</jid>"))
	if i < 0 || j < i {
		return fail(fmt.Errorf("%w: bind: %s", errXMPPStream, el))
	}
	c.jid = string(el[i+5 : j])
	if _, err := c.nc.Write([]byte("<presence/>")); err != nil {
		return fail(err)
	}
	// The server sends the presence back to its sender (RFC 6121 4.2.2).
	if _, err := c.expect("<presence"); err != nil {
		return fail(err)
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// next returns the next element from the server.
func (c *xconn) next() ([]byte, error) {
	for len(c.q) == 0 {
		if c.rerr != nil {
			return nil, c.rerr
		}
		n, err := c.nc.Read(c.buf)
		if n > 0 {
			if _, ferr := c.sc.Feed(c.buf[:n], func(k stanza.Kind, d []byte) error {
				switch k {
				case stanza.KindElement:
					c.q = append(c.q, d)
				case stanza.KindClose:
					c.rerr = fmt.Errorf("%w: the server closed the stream", errXMPPStream)
				}
				return nil
			}); ferr != nil {
				return nil, ferr
			}
		}
		if err != nil {
			c.rerr = err
		}
	}
	el := c.q[0]
	c.q = c.q[1:]
	return el, nil
}

// expect skips elements until one starting with a prefix; a stream error
// fails.
func (c *xconn) expect(prefixes ...string) ([]byte, error) {
	for {
		el, err := c.next()
		if err != nil {
			return nil, err
		}
		if bytes.HasPrefix(el, []byte("<stream:error")) {
			return nil, fmt.Errorf("%w: %s", errXMPPStream, el)
		}
		for _, p := range prefixes {
			if bytes.HasPrefix(el, []byte(p)) {
				return el, nil
			}
		}
	}
}

// send writes raw XML.
func (c *xconn) send(s string) error {
	_, err := c.nc.Write([]byte(s))
	return err
}

// close ends the stream and the connection.
func (c *xconn) close() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write([]byte("</stream:stream>"))
	c.nc.Close()
}

// joinRoom joins room@muc as nick and waits for the subject (end of the
// join, XEP-0045 7.2.16), without history.
func (c *xconn) joinRoom(room, muc, nick string) error {
	if err := c.send("<presence to='" + room + "@" + muc + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"); err != nil {
		return err
	}
	for {
		el, err := c.expect("<message", "<presence")
		if err != nil {
			return err
		}
		isErr := bytes.Contains(el, []byte("type='error'")) || bytes.Contains(el, []byte(`type="error"`))
		if bytes.HasPrefix(el, []byte("<presence")) && isErr {
			return fmt.Errorf("%w: join: %s", errXMPPStream, el)
		}
		if bytes.Contains(el, []byte("<subject")) {
			return nil
		}
	}
}

// xmppDomainOf is the domain part of a JID.
func xmppDomainOf(jid string) string {
	jid, _, _ = strings.Cut(jid, "/")
	if _, d, ok := strings.Cut(jid, "@"); ok {
		return d
	}
	return jid
}
