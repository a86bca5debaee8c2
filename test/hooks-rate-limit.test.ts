/**
 * A source's `rateLimit` is a token bucket in front of its receiver: deliveries beyond the burst
 * get 429 `SOURCE_RATE_LIMITED` with a `Retry-After` taken from the bucket, before authentication
 * and before the body is read, store nothing and are counted as rejections of that source; tokens
 * come back at the configured rate; other sources are not affected; bad values are refused when
 * the configuration loads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, tempDir, type TestApp } from './helpers/app.ts';

const TOKEN = 'rate-token';

describe('per-source rate limits', { timeout: 60_000 }, () => {
  const dir = tempDir('junction-hook-rate-');
  let t: TestApp;

  before(async () => {
    t = await startTestApp(
      {
        workers: { concurrency: 0 },
        sources: [
          {
            name: 'limited',
            type: 'webhook',
            token: TOKEN,
            map: { type: "'demo'" },
            rateLimit: { perSecond: 1, burst: 3 },
          },
          {
            name: 'guarded',
            type: 'webhook',
            token: TOKEN,
            map: { type: "'demo'" },
            rateLimit: { perSecond: 0.1, burst: 2 },
          },
          { name: 'open', type: 'webhook', token: TOKEN, map: { type: "'demo'" } },
        ],
      },
      dir.path,
    );
  });

  after(async () => {
    await t?.close();
    dir.remove();
  });

  async function storedCount(): Promise<number> {
    const page = await t.app.store.listEvents({}, { limit: 1000 });
    return page.items.length;
  }

  async function rejected(source: string, code: string): Promise<number> {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('junction_events_rejected_total') && l.includes(`"${source}"`) && l.includes(code),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  const delivery = (n: number): string => JSON.stringify({ type: 'demo', n });

  test('the burst is accepted, the next delivery gets 429 with Retry-After, and a token comes back', async () => {
    const stored = await storedCount();
    const counted = await rejected('limited', 'SOURCE_RATE_LIMITED');
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<TestApp['post']>> | undefined;
    for (let n = 0; n < 4; n += 1) {
      const response = await t.post('/hooks/limited', delivery(n), headers);
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    assert.deepEqual(statuses, [202, 202, 202, 429]);
    assert.ok(refused !== undefined);
    assert.equal(refused.body.error.code, 'SOURCE_RATE_LIMITED');
    assert.match(refused.body.error.message, /source 'limited' takes 1 delivery a second with a burst of 3/);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(await storedCount(), stored + 3);
    assert.equal(await rejected('limited', 'SOURCE_RATE_LIMITED'), counted + 1);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await t.post('/hooks/limited', delivery(99), headers);
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(await storedCount(), stored + 4);
    const next = await t.post('/hooks/limited', delivery(100), headers);
    assert.equal(next.status, 429);
  });

  test('Retry-After follows the bucket: at 0.1 a second the next token is 10 s away', async () => {
    for (let n = 0; n < 2; n += 1) {
      assert.equal((await t.post('/hooks/guarded', delivery(n), headers)).status, 202);
    }
    const refused = await t.post('/hooks/guarded', delivery(2), headers);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 9 && retryAfter <= 10, `Retry-After ${retryAfter}`);
    assert.equal(refused.body.error.details.retryAfterSeconds, retryAfter);
  });

  test('a source without a limit is not affected', async () => {
    for (let n = 0; n < 20; n += 1) {
      const response = await t.post('/hooks/open', delivery(n), headers);
      assert.equal(response.status, 202, JSON.stringify(response.body));
    }
  });

  test('the limit applies before authentication: an unauthenticated flood is limited too', async () => {
    const stored = await storedCount();
    const unauthenticated = await rejected('guarded', 'SOURCE_UNAUTHENTICATED');
    // 'guarded' has no token left: a wrong token is not even checked.
    const statuses = new Set<number>();
    for (let n = 0; n < 50; n += 1) {
      const response = await t.post('/hooks/guarded', delivery(n), {
        'content-type': 'application/json',
        authorization: 'Bearer wrong',
      });
      statuses.add(response.status);
    }
    assert.deepEqual([...statuses], [429]);
    assert.equal(await rejected('guarded', 'SOURCE_UNAUTHENTICATED'), unauthenticated);
    assert.equal(await storedCount(), stored);
  });

  test('the limit is checked before the body: an oversized delivery gets 429, not 413', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    assert.equal((await t.post('/hooks/open', big, headers)).status, 413);
    const response = await t.post('/hooks/guarded', big, headers);
    assert.equal(response.status, 429);
    assert.equal(response.body.error.code, 'SOURCE_RATE_LIMITED');
  });

  test('the CloudEvents handshake announces the rate in requests per minute', async () => {
    const ask = (name: string) =>
      fetch(`${t.url}/hooks/${name}`, {
        method: 'OPTIONS',
        headers: { 'webhook-request-origin': 'sender.example.com' },
      });
    assert.equal((await ask('limited')).headers.get('webhook-allowed-rate'), '60');
    assert.equal((await ask('guarded')).headers.get('webhook-allowed-rate'), '6');
    assert.equal((await ask('open')).headers.get('webhook-allowed-rate'), '*');
  });

  test('bad rateLimit values are refused with their path', async () => {
    const cases: [unknown, string][] = [
      [{ perSecond: 0, burst: 1 }, 'sources[0].rateLimit.perSecond'],
      [{ perSecond: 100001, burst: 1 }, 'sources[0].rateLimit.perSecond'],
      [{ perSecond: '5', burst: 1 }, 'sources[0].rateLimit.perSecond'],
      [{ perSecond: 1, burst: 0 }, 'sources[0].rateLimit.burst'],
      [{ perSecond: 1, burst: 1.5 }, 'sources[0].rateLimit.burst'],
      [{ perSecond: 1, burst: 1_000_001 }, 'sources[0].rateLimit.burst'],
      [{ perSecond: 1 }, 'sources[0].rateLimit'],
      [{ perSecond: 1, burst: 1, perMinute: 5 }, 'sources[0].rateLimit'],
      ['10/s', 'sources[0].rateLimit'],
    ];
    for (const [rateLimit, path] of cases) {
      await assert.rejects(
        startTestApp({
          sources: [{ name: 'bad', type: 'webhook', token: TOKEN, map: { type: "'demo'" }, rateLimit }],
        }),
        (error: { details?: unknown }) => JSON.stringify(error.details).includes(path),
        `${JSON.stringify(rateLimit)} should be refused at ${path}`,
      );
    }
  });
});

describe('rate limit of a fresh source against unauthenticated senders', { timeout: 30_000 }, () => {
  test('deliveries without a credential use up the burst, then get 429', async () => {
    const t = await startTestApp({
      workers: { concurrency: 0 },
      sources: [
        {
          name: 'fresh',
          type: 'webhook',
          token: TOKEN,
          map: { type: "'demo'" },
          rateLimit: { perSecond: 0.1, burst: 2 },
        },
      ],
    });
    try {
      const statuses: number[] = [];
      for (let n = 0; n < 4; n += 1) {
        statuses.push((await t.post('/hooks/fresh', '{}', { 'content-type': 'application/json' })).status);
      }
      assert.deepEqual(statuses, [401, 401, 429, 429]);
      // The flood used the tokens: the real sender must wait as well.
      const real = await t.post('/hooks/fresh', '{"type":"demo"}', {
        'content-type': 'application/json',
        authorization: `Bearer ${TOKEN}`,
      });
      assert.equal(real.status, 429);
    } finally {
      await t.close();
    }
  });
});
