// The demo service "web": serves the deployed version at / and its health as a Prometheus gauge at
// /metrics. Deploying writes the version into $DEMO_DIR/version; a version listed in
// $DEMO_DIR/unhealthy (one per line), or a version file that contains "bad", makes it unhealthy:
// demo_healthy drops to 0, which the rule in monitoring/rules.yml alerts on.
//
//   DEMO_DIR=/tmp/junction-demo-web PORT=8081 node examples/08-deploy-and-rollback/service/server.mjs
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import process from 'node:process';

const dir = process.env.DEMO_DIR ?? '/tmp/junction-demo-web';
const port = Number(process.env.PORT ?? '8081');

function read(name) {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch {
    return '';
  }
}

function deployed() {
  return read('version').trim();
}

function healthy(version) {
  if (version === '') return true;
  if (version.includes('bad')) return false;
  const unhealthy = read('unhealthy')
    .split('\n')
    .map((line) => line.trim());
  return !unhealthy.includes(version);
}

const server = http.createServer((req, res) => {
  const version = deployed();
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET' }).end();
  } else if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(version === '' ? 'nothing deployed\n' : `${version}\n`);
  } else if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(
      '# HELP demo_healthy 1 when the deployed version of web is healthy, 0 when not\n' +
        '# TYPE demo_healthy gauge\n' +
        `demo_healthy ${healthy(version) ? 1 : 0}\n`,
    );
  } else {
    res.writeHead(404).end();
  }
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`web listening on http://127.0.0.1:${port}, serving ${dir}/version\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
