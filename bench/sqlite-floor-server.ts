/**
 * The second baseline of the intake benchmark: the least a receiver must do to store each event
 * durably in SQLite before answering, on the same Node binary and with the embedded store's own
 * storage settings. It shows how much of Junction's cost per event is the durable write itself,
 * which no design that commits on the event loop avoids.
 *
 * Per `POST /events`: read the body, `JSON.parse` it, queue it; at the next turn of the event
 * loop every queued event is inserted in one `BEGIN IMMEDIATE … COMMIT` (group commit) into a
 * table with the two unique keys intake needs (the event id, and source + id for dedupe), then
 * each request is answered 202 with the stored id (200 for a duplicate). The id is a UUIDv7, as
 * Junction's: time-ordered, so its index grows at one end. (A random id, UUIDv4, lands on a
 * different index page for every event and costs far more per event; see decision 0012.) What it leaves out, and
 * Junction does: validation, authentication, the outbox and its relay, the event log's other
 * indexes, metrics, logging, routing.
 *
 * Storage as in the embedded store (src/store/sqlite): WAL, `synchronous=NORMAL`, 8 KiB pages, a
 * 16 MiB page cache, and WAL checkpoints on the store's own checkpoint thread, never on the event
 * loop. A commit that finds the write lock taken by a checkpoint tries again 1 ms later.
 *
 * Usage: node bench/sqlite-floor-server.ts --port <port> --db <file> [--host 127.0.0.1]
 * `GET /readyz` answers 200. Ends on SIGTERM or SIGINT after the last commit.
 */
import { createServer, type ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { uuidv7 } from '../src/events/ids.ts';
import { createCheckpointer } from '../src/store/sqlite/checkpointer.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    db: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535 || values.db === undefined) {
  process.stderr.write('usage: sqlite-floor-server --port <port> --db <file> [--host 127.0.0.1]\n');
  process.exit(2);
}
const path = values.db;

const SQLITE_BUSY = 5;

const db = new DatabaseSync(path);
db.exec('PRAGMA page_size = 8192');
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = NORMAL');
db.exec('PRAGMA cache_size = -16384');
db.exec('PRAGMA journal_size_limit = 67108864');
db.exec(`CREATE TABLE IF NOT EXISTS events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  dedupe_key TEXT NOT NULL UNIQUE,
  body       TEXT NOT NULL
)`);
const checkpointer = createCheckpointer(db, path);
const insert = db.prepare(
  'INSERT INTO events (id, dedupe_key, body) VALUES (?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING',
);

interface Waiting {
  readonly dedupeKey: string;
  readonly body: string;
  readonly response: ServerResponse;
}

let queue: Waiting[] = [];
let scheduled = false;
let stopping = false;

function schedule(delay: 'immediate' | 'retry'): void {
  if (scheduled) return;
  scheduled = true;
  if (delay === 'immediate') setImmediate(commit);
  else setTimeout(commit, 1);
}

function commit(): void {
  scheduled = false;
  if (queue.length === 0) {
    if (stopping) void shutdown();
    return;
  }
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    if ((error as { errcode?: number }).errcode !== SQLITE_BUSY) throw error;
    schedule('retry');
    return;
  }
  const batch = queue;
  queue = [];
  const answers = batch.map((waiting) => {
    const id = uuidv7();
    const inserted = insert.run(id, waiting.dedupeKey, waiting.body).changes > 0;
    return { id, inserted };
  });
  db.exec('COMMIT');
  checkpointer.wrote();
  batch.forEach((waiting, i) => {
    const { id, inserted } = answers[i]!;
    answer(waiting.response, inserted ? 202 : 200, { id, duplicate: !inserted });
  });
  if (stopping && queue.length === 0) void shutdown();
}

function answer(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/readyz') {
    answer(response, 200, { status: 'ready' });
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event: { id?: unknown; source?: unknown };
    try {
      event = JSON.parse(body) as typeof event;
    } catch {
      answer(response, 400, { error: 'malformed JSON' });
      return;
    }
    if (typeof event.id !== 'string' || typeof event.source !== 'string') {
      answer(response, 400, { error: 'id and source are required' });
      return;
    }
    queue.push({ dedupeKey: `${event.source}\n${event.id}`, body, response });
    schedule('immediate');
  });
});

server.listen(port, values.host, () => {
  process.stdout.write(`sqlite-floor-server listening on http://${values.host}:${port}\n`);
});

let shuttingDown = false;
async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  server.closeAllConnections();
  await checkpointer.close();
  db.close();
  process.exit(0);
}

const stop = (): void => {
  if (stopping) return;
  stopping = true;
  server.close();
  if (queue.length === 0 && !scheduled) void shutdown();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
