/**
 * The intake benchmark's wrk script, run by the real wrk against a small server that records what
 * arrives: every request is a structured CloudEvent of about the asked size with an id no other
 * request repeats, and `random` ids sort in no particular order while the default ones ascend.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findWrk, runWrk } from '../lib/wrk.ts';

interface Seen {
  readonly ids: string[];
  readonly sizes: number[];
}

async function withRecorder(body: (url: string, seen: Seen) => Promise<void>): Promise<void> {
  const seen: Seen = { ids: [], sizes: [] };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(text) as { id: string; specversion: string };
      assert.equal(event.specversion, '1.0');
      seen.ids.push(event.id);
      seen.sizes.push(Buffer.byteLength(text));
      response.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    await body(`http://127.0.0.1:${port}/events`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function load(url: string, style: 'ascending' | 'random'): Promise<void> {
  const wrk = findWrk();
  assert.ok(wrk !== undefined, 'no wrk on PATH: install it (apt-get install wrk); .ci/run does so');
  const { result } = await runWrk(wrk, {
    url,
    connections: 4,
    threads: 1,
    durationSeconds: 1,
    timeoutSeconds: 5,
    script: join(import.meta.dirname, 'post-cloudevent.lua'),
    scriptArgs: ['tag1', '2048', style],
  });
  assert.ok(result.ok2xx > 100, `wrk got ${String(result.ok2xx)} 2xx answers`);
}

/** Share of neighbouring ids (in arrival order) that are in ascending order. */
function ascendingShare(ids: readonly string[]): number {
  let ascending = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i - 1]! < ids[i]!) ascending++;
  return ascending / (ids.length - 1);
}

void describe('the wrk script of the intake benchmark', { timeout: 60_000 }, () => {
  for (const style of ['ascending', 'random'] as const) {
    void test(`${style} ids: unique, about 2 KB a request`, () =>
      withRecorder(async (url, seen) => {
        await load(url, style);
        assert.equal(new Set(seen.ids).size, seen.ids.length, 'no id repeats');
        assert.ok(seen.ids.every((id) => id.startsWith('tag1-')));
        for (const size of seen.sizes) assert.ok(Math.abs(size - 2048) <= 16, `a body of ${String(size)} B`);
        if (style === 'random') {
          assert.ok(
            seen.ids.every((id) => /^tag1-[0-9a-f]{16}-1-\d+$/.test(id)),
            seen.ids[0],
          );
          // Random parts: about half of the neighbours ascend, as in any shuffled list.
          const share = ascendingShare(seen.ids);
          assert.ok(share > 0.3 && share < 0.7, `${share.toFixed(2)} of neighbours ascend`);
        } else {
          assert.ok(
            seen.ids.every((id) => /^tag1-1-\d+$/.test(id)),
            seen.ids[0],
          );
        }
      }));
  }
});
