// The physical ceiling of the fan-out on this machine: socket.io broadcasting each message written over HTTP
// to a room, as Flux does (`io.local.to(room).emit`, one encoding and one WebSocket frame for all), without a
// database, tokens or permissions. The fan-out job's sockets send one `request` each (Flux's subscription):
// those whose handshake `auth.token` is `reader` join the room, the others one nobody writes to.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { ready } from './common.mjs';

let lastId = 0;
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    let message;
    try {
      message = req.method === 'POST' && req.url === '/message' ? JSON.parse(body) : undefined;
    } catch {}
    if (typeof message?.text !== 'string') {
      res.writeHead(400).end();
      return;
    }
    const now = new Date().toISOString();
    // the fields of a Flux message event (model:message, verb created)
    const { channel, text } = message;
    const data = { id: ++lastId, tenantId: 1, text, channel, userId: 3, createdAt: now, updatedAt: now };
    io.local.to('readers').emit('model:message', { verb: 'created', id: data.id, data });
    const reply = JSON.stringify(data);
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
    res.end(reply);
  });
});
const io = new Server(server, { serveClient: false });
io.on('connection', (socket) => {
  socket.on('request', (_payload, ack) => {
    socket.join(socket.handshake.auth.token === 'reader' ? 'readers' : 'others');
    if (typeof ack === 'function') ack({ statusCode: 200, headers: {}, data: {} });
  });
});
server.listen(0, '127.0.0.1', () => ready(server.address().port));
