// The physical ceiling of HTTP on this machine: node:http answering a fixed JSON body.
import { createServer } from 'node:http';
import { ready } from './common.mjs';

const body = JSON.stringify({ id: 1, text: 'hello', channel: 'public:2' });
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => ready(server.address().port));
