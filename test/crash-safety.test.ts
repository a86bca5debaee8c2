/**
 * Crash safety: `junction serve` is SIGKILLed at seeded random moments under load from another
 * process and started again (test/crash/harness.ts). Every acknowledged event must be stored, no
 * (event, trigger) may have two runs, nothing may be left running, and interrupted jobs must end
 * by their `on-worker-lost` policy.
 *
 * CRASH_TRIALS=100 npx node --test test/crash-safety.test.ts runs more trials (default 3);
 * CRASH_SEED picks the first seed (default 1). `npx node test/crash/main.ts --trials 100` does the
 * same outside the test runner.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { openStore } from '../src/store/index.ts';
import { formatTally, inspectStore, prng, runTrial, tally, type TrialResult } from './crash/harness.ts';
import { tempDir } from './helpers/app.ts';

const TRIALS = Number(process.env['CRASH_TRIALS'] ?? 3);
const FIRST_SEED = Number(process.env['CRASH_SEED'] ?? 1);

describe('the crash harness itself', () => {
  test('the PRNG repeats a seed exactly and stays in [0, 1)', () => {
    const a = prng(42);
    const b = prng(42);
    const first = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      first,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.ok(first.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(first.slice(0, 10), Array.from({ length: 10 }, prng(43)));
    assert.ok(new Set(first).size > 990, 'the values spread');
  });

  test('inspectStore finds a lost acknowledgement, a stuck job, a wrong failure and a step run twice', async () => {
    const dir = tempDir('junction-crash-check-');
    try {
      const path = join(dir.path, 'junction.db');
      await (await openStore(`sqlite:${path}`)).close();
      const db = new DatabaseSync(path);
      const now = new Date().toISOString();
      const event = (id: string, ce: string): void => {
        db.prepare(
          `INSERT INTO events (id, dedupe_key, receiver, type, source, received_at, body)
           VALUES (?, ?, 'events', 'load.tick', 'crash/load', ?, ?)`,
        ).run(
          id,
          `k-${id}`,
          now,
          JSON.stringify({ specversion: '1.0', id: ce, source: 'crash/load', type: 'load.tick' }),
        );
      };
      const run = (id: string, eventId: string, status: string, reason: string | null): void => {
        db.prepare(
          `INSERT INTO runs (id, event_id, pipeline, trigger_index, status, created_at, reason)
           VALUES (?, ?, 'load', 0, ?, ?, ?)`,
        ).run(id, eventId, status, now, reason);
      };
      const job = (
        id: string,
        runId: string,
        name: string,
        status: string,
        attempt: number,
        reason: string | null,
      ): void => {
        db.prepare(
          `INSERT INTO jobs (id, run_id, name, status, attempt, created_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(id, runId, name, status, attempt, now, reason);
      };
      event('e1', 'c1');
      event('e2', 'c2');
      event('e3', 'c3');
      event('e4', 'c4');
      run('r1', 'e1', 'succeeded', null);
      job('j1a', 'r1', 'fragile', 'succeeded', 1, null);
      job('j1b', 'r1', 'repeatable', 'succeeded', 2, null);
      run('r2', 'e2', 'failed', "job 'fragile' failed: worker-lost: the process running it stopped");
      job('j2a', 'r2', 'fragile', 'failed', 1, 'worker-lost: the process running it stopped');
      job('j2b', 'r2', 'repeatable', 'running', 1, null);
      run('r3', 'e3', 'failed', "job 'fragile' failed: exit code 1");
      job('j3a', 'r3', 'fragile', 'failed', 1, 'exit code 1');
      db.close();
      const marks = join(dir.path, 'marks');
      mkdirSync(marks);
      writeFileSync(join(marks, 'fragile.r1'), 'ran\nran\n');

      const findings = inspectStore(
        path,
        [
          { ceId: 'c1', junctionId: 'e1' },
          { ceId: 'c2', junctionId: 'e2' },
          { ceId: 'c9', junctionId: 'e9' },
          { ceId: 'wrong', junctionId: 'e3' },
        ],
        marks,
      );
      assert.deepEqual(findings.lost, ['c9 (e9)', 'wrong (e3)']);
      assert.equal(findings.stored, 4);
      assert.equal(findings.unrouted, 1, 'e4 has no run');
      assert.equal(findings.stuck, 1);
      assert.equal(findings.retried, 1);
      assert.equal(findings.failedWorkerLost, 1);
      assert.equal(findings.interrupted, 2);
      assert.equal(findings.ranTwice, 1);
      const text = findings.problems.join('\n');
      assert.match(text, /2 acknowledged events not stored/);
      assert.match(text, /job repeatable of run r2 left running/);
      assert.match(text, /job fragile of run r3 ended failed \(attempt 1\): exit code 1/);
      assert.match(text, /the fragile step of run r1 ran 2 times/);
      assert.match(text, /1 stored load.tick events have no run/);
    } finally {
      dir.remove();
    }
  });

  test('the load driver refuses bad arguments', () => {
    for (const args of [[], ['--url-file', 'u', '--acked-file', 'a', '--rate', '0'], ['--rate', 'lots']]) {
      const result = spawnSync(process.execPath, [join(import.meta.dirname, 'crash', 'load.ts'), ...args], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /usage/);
    }
  });
});

describe('SIGKILL under load', { timeout: 600_000 }, () => {
  test(`${TRIALS} seeded trials lose no acknowledged event, duplicate no run, leave nothing running`, async () => {
    const results: TrialResult[] = [];
    for (let seed = FIRST_SEED; seed < FIRST_SEED + TRIALS; seed += 1) results.push(await runTrial(seed));
    const total = tally(results);
    console.log(formatTally(total));
    assert.deepEqual(total.problems, []);
    assert.equal(total.lost, 0);
    assert.equal(total.duplicateRuns, 0);
    assert.equal(total.stuck, 0);
    assert.ok(total.acknowledged > 0, 'the driver got events in');
    assert.ok(total.stored >= total.acknowledged);
    assert.ok(total.kills >= results.length, 'every trial killed the server at least once');
  });
});
