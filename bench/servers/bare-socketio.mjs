// The physical ceiling of socket.io request/ack on this machine: acks a fixed reply.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { ready } from './common.mjs';

const server = createServer();
const io = new Server(server, { serveClient: false });
const reply = { statusCode: 200, headers: {}, data: { id: 1, text: 'hello', channel: 'public:2' } };
io.on('connection', (socket) => {
  socket.on('request', (_payload, ack) => ack(reply));
});
server.listen(0, '127.0.0.1', () => ready(server.address().port));
