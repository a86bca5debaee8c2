/**
 * The load driver of the crash trials, run as a process of its own so that killing the server
 * never touches it. It posts one structured CloudEvent of type `load.tick` (a unique id each) at a
 * fixed rate to the URL written in `--url-file` (read again before every request, so the harness
 * can point it at a restarted server), without waiting for earlier answers. Each request that was
 * answered 2xx is appended to `--acked-file` as `<cloudevent id> <junction id>` and the file is
 * fsync'ed before the next line, so an acknowledgement on disk means the server answered 2xx.
 * Requests that fail (the server is down, refused, timed out) are counted and not retried.
 *
 * On SIGTERM it stops sending, waits for the requests in flight (up to the request timeout),
 * prints one JSON line `{"sent":…,"acked":…,"failed":…}` to stdout and exits 0.
 *
 * Usage: node test/crash/load.ts --url-file <path> --acked-file <path> [--rate 20] [--prefix p]
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'url-file': { type: 'string' },
    'acked-file': { type: 'string' },
    rate: { type: 'string', default: '20' },
    prefix: { type: 'string', default: 'tick' },
    'timeout-ms': { type: 'string', default: '3000' },
  },
});
const urlFile = values['url-file'];
const ackedFile = values['acked-file'];
const rate = Number(values.rate);
const timeoutMs = Number(values['timeout-ms']);
if (urlFile === undefined || ackedFile === undefined || !(rate > 0 && rate <= 10_000) || !(timeoutMs > 0)) {
  process.stderr.write(
    'load: usage: load.ts --url-file <path> --acked-file <path> [--rate 1..10000] [--prefix p] [--timeout-ms n]\n',
  );
  process.exit(2);
}

const acked = openSync(ackedFile, 'a');
const inFlight = new Set<Promise<void>>();
let sent = 0;
let ackCount = 0;
let failed = 0;
let stopping = false;

function currentUrl(): string | undefined {
  try {
    const url = readFileSync(urlFile!, 'utf8').trim();
    return url === '' ? undefined : url;
  } catch {
    // Not written yet: the harness writes it once the server listens.
    return undefined;
  }
}

async function post(n: number): Promise<void> {
  const id = `${values.prefix}-${n}`;
  const url = currentUrl();
  if (url === undefined) {
    failed += 1;
    return;
  }
  try {
    const response = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        id,
        source: 'crash/load',
        type: 'load.tick',
        datacontenttype: 'application/json',
        data: { n },
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.status < 200 || response.status > 299) {
      failed += 1;
      return;
    }
    const junctionId = (JSON.parse(text) as { id?: unknown }).id;
    writeSync(acked, `${id} ${typeof junctionId === 'string' ? junctionId : '-'}\n`);
    fsyncSync(acked);
    ackCount += 1;
  } catch {
    // Refused, reset or timed out while the server was down: not acknowledged.
    failed += 1;
  }
}

const started = performance.now();
function tick(): void {
  if (stopping) return;
  // Open loop: as many requests as the rate says by now, whatever the earlier ones are doing.
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  while (sent < due) {
    sent += 1;
    const request = post(sent).finally(() => inFlight.delete(request));
    inFlight.add(request);
  }
  setTimeout(tick, Math.max(1, Math.min(50, 1000 / rate)));
}
tick();

process.once('SIGTERM', () => {
  stopping = true;
  void Promise.allSettled([...inFlight]).then(() => {
    closeSync(acked);
    process.stdout.write(`${JSON.stringify({ sent, acked: ackCount, failed })}\n`);
    process.exit(0);
  });
});
