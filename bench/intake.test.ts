import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  checkDurability,
  countStoredEvents,
  cpuShares,
  evaluateTargets,
  findDatabase,
  floorFigures,
  formatIntakeReport,
  median,
  sharedMachineWarning,
  type IntakeReport,
  type TargetResult,
} from './intake.ts';
import type { WrkResult } from './lib/wrk.ts';
import { freePort, startServer } from './lib/server-process.ts';

function wrkResult(ok2xx: number, p99Ms = 5): WrkResult {
  return {
    requests: ok2xx,
    durationSeconds: 10,
    requestsPerSec: ok2xx / 10,
    latency: { p50Ms: 1, p75Ms: 2, p90Ms: 3, p99Ms, maxMs: p99Ms * 2 },
    socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
    ok2xx,
    non2xx: 0,
    statuses: { '202': ok2xx },
  };
}

function target(
  name: TargetResult['name'],
  eventsPerSec: number,
  extra: Partial<TargetResult> = {},
): TargetResult {
  return {
    name,
    label: name.replace('-', ' '),
    measured: wrkResult(eventsPerSec * 10),
    eventsPerSec,
    ...extra,
  };
}

function report(targets: TargetResult[], loadBefore = 0): IntakeReport {
  return {
    benchmark: 'intake',
    date: '2026-01-01T00:00:00.000Z',
    machine: { cpus: 2, cpuModel: 'test', memoryBytes: 2 ** 30, node: 'v24.0.0', wrk: 'wrk 4', loadBefore },
    settings: {
      durationSeconds: 10,
      warmupSeconds: 3,
      connections: 64,
      threads: 1,
      timeoutSeconds: 5,
      bodyBytes: 2048,
    },
    targets,
    checks: evaluateTargets(targets),
    failed: false,
  };
}

void describe('intake benchmark', { timeout: 30_000 }, () => {
  void test('durability: stored must cover every acknowledged event; extra is what wrk cut off', () => {
    assert.deepEqual(checkDurability(1130, wrkResult(100), wrkResult(1000)), {
      stored: 1130,
      acknowledged: 1100,
      acknowledgedWarmup: 100,
      acknowledgedMeasured: 1000,
      extra: 30,
      ok: true,
    });
    assert.equal(checkDurability(1099, wrkResult(100), wrkResult(1000)).ok, false);
    assert.equal(checkDurability(1000, undefined, wrkResult(1000)).ok, true);
  });

  void test('counts the rows of events in a read-only SQLite file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-bench-test-'));
    try {
      const path = join(dir, 'junction.db');
      const db = new DatabaseSync(path);
      db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT)');
      db.exec("INSERT INTO events (body) VALUES ('a'), ('b'), ('c')");
      db.close();
      assert.equal(findDatabase(dir), path);
      assert.equal(countStoredEvents(path), 3);
      assert.equal(findDatabase(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('cpu shares: server, wrk and everything else as % of one core', () => {
    const shares = cpuShares(
      { server: 10, wrk: 5, own: 1, machine: 100, ioWait: 7, loop: 6, loopWait: 2 },
      { server: 19, wrk: 10, own: 1.5, machine: 116, ioWait: 8, loop: 13, loopWait: 3 },
      10,
    );
    assert.equal(Math.round(shares.server), 90);
    assert.equal(Math.round(shares.wrk), 50);
    assert.equal(Math.round(shares.other), 15);
    assert.equal(Math.round(shares.ioWait), 10);
    assert.equal(shares.serverSeconds, 9);
    assert.equal(Math.round(shares.loop ?? -1), 70);
    assert.equal(shares.loopSeconds, 7);
    assert.equal(Math.round(shares.loopWait ?? -1), 10);
    // Without per-thread figures, there are no loop figures.
    const plain = cpuShares(
      { server: 10, wrk: 5, own: 1, machine: 100, ioWait: 7 },
      { server: 19, wrk: 10, own: 1.5, machine: 116, ioWait: 8 },
      10,
    );
    assert.equal(plain.loop, undefined);
    assert.equal(plain.loopWait, undefined);
  });

  void test('targets pass and miss on the junction normal figures', () => {
    const passing = [
      target('bare', 20_000),
      target('junction-normal', 12_000, { ratioVsBare: 0.6, idleRssBytes: 100e6 }),
    ];
    assert.deepEqual(
      evaluateTargets(passing).map((c) => c.pass),
      [true, true, true],
    );
    const missing = [
      target('bare', 20_000),
      target('junction-normal', 8_000, {
        ratioVsBare: 0.4,
        idleRssBytes: 125e6,
        measured: wrkResult(80_000, 25),
      }),
    ];
    assert.deepEqual(
      evaluateTargets(missing).map((c) => c.pass),
      [false, false, false],
    );
    assert.deepEqual(
      evaluateTargets([target('bare', 20_000)]).map((c) => c.actual),
      ['no result', 'no result', 'no result'],
    );
  });

  void test('several rounds are checked on their medians, each ratio taken within its round', () => {
    const round = (n: number, bare: number, normal: number, p99: number, idle: number): TargetResult[] => [
      target('bare', bare, { round: n, label: `bare node http #${n}` }),
      target('junction-normal', normal, {
        round: n,
        label: `junction normal #${n}`,
        ratioVsBare: normal / bare,
        idleRssBytes: idle,
        measured: wrkResult(normal * 10, p99),
      }),
    ];
    // The machine slows down in round 2; the ratio there is still 0.5.
    const targets = [
      ...round(1, 20_000, 9_000, 18, 110e6),
      ...round(2, 10_000, 5_000, 30, 112e6),
      ...round(3, 20_000, 11_000, 15, 130e6),
    ];
    const checks = evaluateTargets(targets);
    assert.deepEqual(
      checks.map((c) => c.pass),
      [true, true, true],
    );
    assert.equal(checks[0]!.actual, '0.50× median of 3 rounds (0.45×, 0.50×, 0.55×)');
    assert.equal(checks[1]!.actual, '18.0 ms median of 3 rounds (18.0 ms, 30.0 ms, 15.0 ms)');
    assert.match(checks[2]!.actual, /^112\.0 MB median of 3 rounds/);
    const text = formatIntakeReport({
      ...report(targets),
      settings: { ...report(targets).settings, rounds: 3 },
    });
    assert.match(text, /3 rounds of the targets/);
    assert.match(text, /^junction normal #2\s+5,000/m);
  });

  void test('the sqlite floor is reported against bare and Junction against the floor, within each round', () => {
    const round = (n: number, bare: number, floor: number, normal: number): TargetResult[] =>
      [
        target('bare', bare),
        target('sqlite-floor', floor, { ratioVsBare: floor / bare }),
        target('junction-normal', normal, { ratioVsBare: normal / bare }),
      ].map((t) => ({ ...t, round: n, label: `${t.label} #${n}` }));
    const targets = [
      ...round(1, 40_000, 16_000, 8_000),
      ...round(2, 20_000, 6_000, 4_500),
      ...round(3, 40_000, 18_000, 9_000),
    ];
    const figures = floorFigures(targets);
    assert.equal(figures?.vsBare, 0.4);
    assert.equal(figures?.junctionVsFloor, 0.5);
    assert.equal(figures?.rounds, 3);
    const text = formatIntakeReport({
      ...report(targets),
      settings: { ...report(targets).settings, rounds: 3 },
    });
    assert.match(
      text,
      /info {2}sqlite floor \(not a target\): 0\.40× bare; junction normal does 0\.50× the floor \(medians of 3 rounds\)/,
    );
    // Without a floor (an older report, or the floor failed) there is no floor line.
    assert.equal(floorFigures([target('bare', 20_000), target('junction-normal', 8_000)]), undefined);
    assert.doesNotMatch(
      formatIntakeReport(report([target('bare', 20_000)])),
      /sqlite floor \(not a target\)/,
    );
  });

  void test('the sqlite floor server stores before it answers, dedupes, refuses bad JSON and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-floor-test-'));
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const file = join(dir, 'floor.db');
    const server = await startServer({
      label: 'sqlite floor',
      args: [join(import.meta.dirname, 'sqlite-floor-server.ts'), '--port', String(port), '--db', file],
      cwd: dir,
      baseUrl,
      readyPath: '/readyz',
    });
    try {
      const post = (body: string): Promise<Response> =>
        fetch(`${baseUrl}/events`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const events = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({ specversion: '1.0', id: `e${i}`, source: 'test', type: 't' }),
      );
      const answers = await Promise.all(events.map(post));
      assert.deepEqual(
        answers.map((a) => a.status),
        events.map(() => 202),
      );
      const first = (await answers[0]!.json()) as { id: string; duplicate: boolean };
      assert.equal(first.duplicate, false);
      const again = await post(events[0]!);
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
      assert.equal((await post('{"id": ')).status, 400);
      assert.equal((await post('{"source": "test"}')).status, 400);
      const exit = await server.stop();
      assert.deepEqual([exit.code, exit.killed], [0, false]);
      assert.equal(countStoredEvents(file), 20);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('median of odd, even and no values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), undefined);
  });

  void test('a shared machine is called out; an idle one is not', () => {
    const quiet = [
      target('bare', 20_000, {
        cpuPercent: { server: 99, wrk: 50, other: 2, ioWait: 0, serverSeconds: 9.9 },
      }),
    ];
    assert.equal(sharedMachineWarning(report(quiet)), undefined);
    const noisy = [
      target('bare', 20_000, { cpuPercent: { server: 60, wrk: 40, other: 80, ioWait: 0, serverSeconds: 6 } }),
    ];
    assert.match(sharedMachineWarning(report(noisy)) ?? '', /up to 80% of a core/);
    assert.match(sharedMachineWarning(report(quiet, 3.5)) ?? '', /load 3\.50/);
  });

  void test('the text report has the table, the durability lines and a PASS/MISS line per target', () => {
    const text = formatIntakeReport(
      report([
        target('bare', 20_000, { wrkCommand: '/usr/bin/wrk --threads 1 http://127.0.0.1:1/events' }),
        target('junction-normal', 8_000, {
          durability: 'normal',
          ratioVsBare: 0.4,
          idleRssBytes: 100e6,
          durabilityCheck: checkDurability(80_050, undefined, wrkResult(80_000)),
        }),
      ]),
    );
    assert.match(text, /^target\s+events\/s\s+p50 ms/m);
    assert.match(text, /^bare\s+20,000/m);
    assert.match(text, /OK {4}junction normal: stored 80,050, acknowledged 80,000/);
    assert.match(text, /MISS {2}junction normal events\/s ≥ 0\.5× bare: 0\.40×/);
    assert.match(text, /PASS {2}junction normal p99 ≤ 20 ms: 5\.00 ms/);
    assert.match(text, /PASS {2}junction idle RSS ≤ 120 MB: 100\.0 MB/);
    assert.match(text, /\/usr\/bin\/wrk --threads 1/);
  });
});
