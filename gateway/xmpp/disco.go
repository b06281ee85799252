package xmppgw

import (
	"crypto/sha1" //nolint:gosec // XEP-0115's verification string is defined with SHA-1
	"encoding/base64"
	"slices"
	"strings"

	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// Service discovery (XEP-0030) and entity capabilities (XEP-0115): what
// the server, an account, the MUC service and a room support.

var serverFeatures = []string{
	stanza.NSDiscoInfo, stanza.NSDiscoItem, stanza.NSPing, stanza.NSRoster, stanza.NSCarbons,
	stanza.NSVersion, stanza.NSSID, stanza.NSVCard, stanza.NSCaps,
}

var accountFeatures = []string{stanza.NSMAM, stanza.NSSID}

var mucFeatures = []string{stanza.NSMUC, stanza.NSDiscoInfo, stanza.NSDiscoItem, stanza.NSMAM, stanza.NSSID, stanza.NSPing}

var roomFeatures = []string{
	stanza.NSMUC, "muc_public", "muc_open", "muc_persistent", "muc_unmoderated", "muc_nonanonymous",
	"muc_unsecured", stanza.NSMAM, stanza.NSSID, stanza.NSDiscoInfo, stanza.NSModerate,
}

// capsInfo is the server's disco#info, with its XEP-0115 hash.
type capsInfo struct {
	node string
	ver  string
}

const capsNode = "https://github.com/banter-chat/banter"

func newCaps() capsInfo {
	// XEP-0115 5.1: identities category/type/lang/name<, features<.
	feats := slices.Clone(serverFeatures)
	slices.Sort(feats)
	var b strings.Builder
	b.WriteString("server/im//Banter<")
	for _, f := range feats {
		b.WriteString(f)
		b.WriteByte('<')
	}
	sum := sha1.Sum([]byte(b.String())) //nolint:gosec // XEP-0115
	return capsInfo{node: capsNode, ver: base64.StdEncoding.EncodeToString(sum[:])}
}

// appendC writes the <c/> of the stream features.
func (ci capsInfo) appendC(b *stanza.Builder) {
	b.Empty("c", "xmlns", stanza.NSCaps, "hash", "sha-1", "node", ci.node, "ver", ci.ver)
}

func infoQuery(node, category, typ, name string, feats []string) []byte {
	var b stanza.Builder
	b.Start("query", "xmlns", stanza.NSDiscoInfo, "node", node)
	b.Empty("identity", "category", category, "type", typ, "name", name)
	for _, f := range feats {
		b.Empty("feature", "var", f)
	}
	b.End("query")
	return b.B
}

func (ci capsInfo) serverInfo(node string) []byte {
	return infoQuery(node, "server", "im", "Banter", serverFeatures)
}

func (ci capsInfo) accountInfo() []byte {
	return infoQuery("", "account", "registered", "", accountFeatures)
}

func (ci capsInfo) mucInfo() []byte {
	return infoQuery("", "conference", "text", "Chat rooms", mucFeatures)
}

func (ci capsInfo) roomInfo(room string) []byte {
	return infoQuery("", "conference", "text", room, roomFeatures)
}
