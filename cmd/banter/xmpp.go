package main

import "flag"

// xmppFlags are the XMPP gateway's settings (docs/xmpp.md).
type xmppFlags struct {
	addr, tlsAddr, domain string
}

func (x *xmppFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&x.addr, "xmpp", "", "serve XMPP clients on this `address`, e.g. :5222 (STARTTLS with --tls-cert, then required); off when empty; XMPP over WebSocket is always at /xmpp")
	fs.StringVar(&x.tlsAddr, "xmpp-tls", "", "serve XMPP clients with direct TLS (XEP-0368) on this `address`, e.g. :5223; needs --tls-cert")
	fs.StringVar(&x.domain, "xmpp-domain", "", "the XMPP `domain` (users are nick@domain, rooms room@rooms.domain); default: the host name")
}
