/**
 * What the embedded store writes to its WAL per stored event, and for which table or index: the
 * write amplification behind the append and checkpoint threads' CPU in the intake benchmark
 * (docs/benchmarks.md, "What SQLite writes per event").
 *
 * It appends intake-shaped events (2 KB structured CloudEvents with ascending ids, as the intake
 * benchmark's wrk script sends) through the real SQLite store in commits of `--per-commit` events,
 * holding a read transaction open on a second connection during the measured commits so that no
 * checkpoint can start the WAL over, then reads the WAL's frames back and names the b-tree each
 * frame's page belongs to (SQLite's `dbstat`).
 *
 * Usage: node bench/wal-frames.ts [--per-commit 30] [--commits 50]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import type { CloudEvent } from '../src/events/index.ts';
import type { NewEvent } from '../src/store/index.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const WARM_UP_COMMITS = 300;

const { values } = parseArgs({
  options: {
    'per-commit': { type: 'string', default: '30' },
    commits: { type: 'string', default: '50' },
  },
});
const perCommit = Number(values['per-commit']);
const commits = Number(values.commits);
if (!Number.isInteger(perCommit) || perCommit < 1 || !Number.isInteger(commits) || commits < 1) {
  process.stderr.write('usage: node bench/wal-frames.ts [--per-commit N] [--commits N]\n');
  process.exit(2);
}

/** The WAL's frames since its last restart: page number of each, in order. */
function walPages(walPath: string): number[] {
  const wal = readFileSync(walPath);
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const pages: number[] = [];
  for (let at = WAL_HEADER_BYTES; at + FRAME_HEADER_BYTES + pageSize <= wal.length;) {
    // Frames left over from before the last restart carry the old salts.
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    pages.push(wal.readUInt32BE(at));
    at += FRAME_HEADER_BYTES + pageSize;
  }
  return pages;
}

const padding = 'x'.repeat(1_700);
let counter = 0;
function nextEvent(): NewEvent {
  counter += 1;
  const data = { repository: 'example/service', branch: 'main', labels: ['bench'], padding };
  const event: CloudEvent = {
    specversion: '1.0',
    type: 'com.example.bench',
    source: 'bench/wal-frames',
    id: `run-1-${counter}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
  return { event, receiver: 'events', dataJson: JSON.stringify(data) };
}

const dir = mkdtempSync(join(tmpdir(), 'junction-wal-frames-'));
const path = join(dir, 'junction.db');
// On the event loop, so that the commits below are the ones this script waits for.
const store = createSqliteStore({ path, appendThread: false });
try {
  await store.migrate();
  const commit = async (): Promise<void> => {
    await store.appendEvents(Array.from({ length: perCommit }, nextEvent), 'events');
  };
  for (let i = 0; i < WARM_UP_COMMITS; i++) await commit();

  const reader = new DatabaseSync(path);
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM events').get();
  const before = walPages(`${path}-wal`).length;
  for (let i = 0; i < commits; i++) await commit();
  const frames = walPages(`${path}-wal`).slice(before);
  reader.exec('COMMIT');
  reader.close();

  const catalog = new DatabaseSync(path, { readOnly: true });
  const pageSize = Number(catalog.prepare('PRAGMA page_size').get()?.['page_size']);
  const owner = new Map<number, string>();
  for (const row of catalog.prepare('SELECT name, pageno FROM dbstat').all()) {
    owner.set(Number(row['pageno']), String(row['name']));
  }
  catalog.close();

  const counts = new Map<string, number>();
  for (const page of frames) {
    const name = owner.get(page) ?? 'free or new';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const bytesPerEvent = (frames.length * (pageSize + FRAME_HEADER_BYTES)) / (commits * perCommit);
  process.stdout.write(
    `${perCommit} events of about 2 KB per commit, ${commits} commits: ` +
      `${(frames.length / commits).toFixed(1)} WAL frames of ${pageSize} B per commit, ` +
      `${Math.round(bytesPerEvent)} B of WAL per event\n`,
  );
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`  ${(count / commits).toFixed(2).padStart(6)}  ${name}\n`);
  }
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
