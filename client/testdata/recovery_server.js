#!/usr/bin/env node
// A socket.io 4.8 server with connection state recovery, for the Go
// client's recovery test. Events: join(room, ack), room-message(room, m)
// broadcast to the room, watch-disconnects(ack): receive
// peer-disconnect({id, reason}) when any socket disconnects. Prints "LISTENING <port>"; exits when stdin
// closes (BANTER_WATCH_STDIN=1, see internal/testutil.StartNode).
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
});
io.on('connection', (socket) => {
  socket.on('join', (room, ack) => { socket.join(room); if (typeof ack === 'function') ack(true); });
  socket.on('watch-disconnects', (ack) => { socket.join('__watchers'); if (typeof ack === 'function') ack(true); });
  socket.on('disconnect', (reason) => io.to('__watchers').emit('peer-disconnect', { id: socket.id, reason }));
  socket.on('room-message', (room, m) => io.to(room).emit('room-message', room, m));
});
httpServer.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
if (process.env.BANTER_WATCH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
