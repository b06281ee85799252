// Package clientdist serves the official Socket.IO JavaScript client bundle
// (socket.io.js, socket.io.min.js and their source maps) embedded in the
// binary, the way Node's socket.io server serves it at /socket.io/socket.io.js.
//
// The bundle comes from the npm package socket.io-client: scripts/bundle.sh
// copies it into dist/ before building, and it is git-ignored. A binary built
// without it still compiles and serves a 404 telling how to add it.
//
// Entry points: Handler, Available, Version. Everything here is read-only
// after package initialization and safe for concurrent use.
package clientdist

import "embed"

// dist always holds README.txt, so the pattern matches even without the
// bundle files.
//
//go:embed dist
var embedded embed.FS
