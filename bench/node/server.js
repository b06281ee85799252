// The Node.js reference server of the benchmarks: socket.io 4.8 with its
// default configuration serving the same workload as bench/workload (Banter).
// Usage: node bench/node/server.js PORT [HOST]   (PORT 0: any free port)
// Prints "LISTENING <port> <pid>" once it accepts connections.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 0);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server.js: bad port ${JSON.stringify(process.argv[2])}`);
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer); // defaults, as a user would start it

io.on('connection', (socket) => {
  socket.on('chat message', (...args) => io.emit('chat message', ...args));
  socket.on('join', (room, ack) => {
    if (typeof room !== 'string') { if (typeof ack === 'function') ack(false); return; }
    socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('leave', (room) => { if (typeof room === 'string') socket.leave(room); });
  socket.on('room message', (m) => {
    if (!m || typeof m.room !== 'string' || m.room === '') return;
    io.to(m.room).emit('chat message', m.msg === undefined ? null : m.msg);
  });
  socket.on('echo', (...args) => {
    const ack = args[args.length - 1];
    if (typeof ack === 'function') ack(...args.slice(0, -1));
  });
});

httpServer.listen(port, host, () => {
  console.log(`LISTENING ${httpServer.address().port} ${process.pid}`);
});
const stop = () => { io.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
