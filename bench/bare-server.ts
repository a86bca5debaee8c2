/**
 * The baseline of the intake benchmark: a bare `node:http` server on the same Node binary that
 * does the least an HTTP receiver must do — read the whole request body — and answers 202 with a
 * small JSON, storing nothing. `GET /readyz` answers 200 so the harness can wait for it the same
 * way it waits for Junction. Ends on SIGTERM or SIGINT.
 *
 * Usage: node bench/bare-server.ts --port <port> [--host 127.0.0.1]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write(`bare-server: --port takes a port number, got '${values.port ?? ''}'\n`);
  process.exit(2);
}

let answered = 0;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/readyz') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
    return;
  }
  let bytes = 0;
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  request.on('end', () => {
    answered += 1;
    const body = JSON.stringify({ id: String(answered), duplicate: false, bytes });
    response.writeHead(202, { 'content-type': 'application/json' }).end(body);
  });
});

server.listen(port, values.host, () => {
  process.stdout.write(`bare-server listening on http://${values.host}:${port}\n`);
});

const shutdown = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
