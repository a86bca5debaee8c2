import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCommand, parseWrkOutput, parseWrkTime, wrkArgs } from './wrk.ts';
import {
  parseMachineBusyTicks,
  parseProcStatChildTicks,
  parseProcStatTicks,
  parseProcStatus,
  parseSchedstatWaitSeconds,
  readMainThreadCpuSeconds,
  readMainThreadWaitSeconds,
} from './proc.ts';
import { parseBenchArgs, parseSeconds } from './args.ts';
import { BenchError } from './bench-error.ts';

const CLEAN = `Running 10s test @ http://127.0.0.1:39095/events
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   722.89us    1.64ms  35.09ms   94.98%
    Req/Sec    17.27k     7.01k   25.16k    65.00%
  Latency Distribution
     50%  328.00us
     75%  607.00us
     90%    1.26ms
     99%    5.78ms
  34274 requests in 2.00s, 6.21MB read
Requests/sec:  17098.57
Transfer/sec:      3.10MB
BENCH_STATUS {"2xx":34274,"non2xx":0,"statuses":{"202":34274},"durationUs":2004495,"p50Us":328,"p90Us":1262,"p99Us":5777,"maxUs":35092}
`;

const WITH_ERRORS = `Running 10s test @ http://127.0.0.1:44845/events
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.90ms   60.10ms   1.20s    97.00%
    Req/Sec     2.05k   300.00     2.50k    70.00%
  Latency Distribution
     50%   25.90ms
     75%   40.00ms
     90%   77.90ms
     99%    1.20s
  20600 requests in 10.01s, 4.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 64
Requests/sec:   2057.94
Transfer/sec:    409.00KB
BENCH_STATUS {"2xx":20536,"non2xx":64,"statuses":{"202":20536,"503":64},"durationUs":10010000,"p50Us":25900,"p90Us":77900,"p99Us":1200000,"maxUs":1202000}
`;

void describe('wrk output', { timeout: 30_000 }, () => {
  void test('reads times in every unit wrk prints', () => {
    assert.equal(parseWrkTime('328.00us'), 0.328);
    assert.equal(parseWrkTime('1.26ms'), 1.26);
    assert.equal(parseWrkTime('2.00s'), 2000);
    assert.equal(parseWrkTime('1.50m'), 90_000);
    assert.throws(() => parseWrkTime('fast'), BenchError);
  });

  void test('reads a clean run', () => {
    const result = parseWrkOutput(CLEAN);
    assert.equal(result.requests, 34274);
    assert.equal(result.durationSeconds, 2);
    assert.equal(result.requestsPerSec, 17098.57);
    assert.deepEqual(result.latency, { p50Ms: 0.328, p75Ms: 0.607, p90Ms: 1.26, p99Ms: 5.78, maxMs: 35.092 });
    assert.deepEqual(result.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
    assert.equal(result.ok2xx, 34274);
    assert.equal(result.non2xx, 0);
  });

  void test('reads socket errors and non-2xx answers by status', () => {
    const result = parseWrkOutput(WITH_ERRORS);
    assert.deepEqual(result.socketErrors, { connect: 0, read: 2, write: 0, timeout: 5 });
    assert.equal(result.non2xx, 64);
    assert.deepEqual(result.statuses, { '202': 20536, '503': 64 });
    assert.equal(result.latency.p99Ms, 1200);
  });

  void test('refuses output without the lua status line or the latency distribution', () => {
    assert.throws(() => parseWrkOutput(CLEAN.replace(/^BENCH_STATUS.*$/m, '')), /BENCH_STATUS/);
    assert.throws(() => parseWrkOutput(CLEAN.replace(/^\s+99%.*$/m, '')), /99% latency/);
  });

  void test('builds the command line with script arguments after --', () => {
    const args = wrkArgs({
      url: 'http://127.0.0.1:1/events',
      connections: 64,
      threads: 1,
      durationSeconds: 10,
      timeoutSeconds: 5,
      script: '/repo/bench/wrk/post-cloudevent.lua',
      scriptArgs: ['abc-measure', '2048'],
    });
    assert.equal(
      formatCommand('/usr/bin/wrk', args),
      '/usr/bin/wrk --threads 1 --connections 64 --duration 10s --timeout 5s --latency --script /repo/bench/wrk/post-cloudevent.lua http://127.0.0.1:1/events -- abc-measure 2048',
    );
    assert.equal(formatCommand('x', ["it's"]), `x 'it'\\''s'`);
  });
});

void describe('/proc readers', { timeout: 30_000 }, () => {
  void test('reads VmRSS and VmHWM in bytes', () => {
    const status = 'Name:\tnode\nVmHWM:\t  189800 kB\nVmRSS:\t  122600 kB\nThreads:\t11\n';
    assert.deepEqual(parseProcStatus(status), { rssBytes: 122600 * 1024, peakRssBytes: 189800 * 1024 });
    assert.equal(parseProcStatus('Name:\tnode\n'), undefined);
  });

  void test('reads utime + stime even when the command name holds spaces and parentheses', () => {
    const stat = '4242 (node (main) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 1000 0 0';
    assert.equal(parseProcStatTicks(stat), 300);
    assert.equal(parseProcStatChildTicks(stat), 0);
  });

  void test('reads the time a thread waited for a cpu from its schedstat, in seconds', () => {
    assert.equal(parseSchedstatWaitSeconds('9177420581 1319143569 16215\n'), 1.319143569);
    assert.equal(parseSchedstatWaitSeconds('9177420581\n'), undefined);
    assert.equal(parseSchedstatWaitSeconds(''), undefined);
  });

  void test("reads this process's own main thread", () => {
    const cpu = readMainThreadCpuSeconds(process.pid);
    const wait = readMainThreadWaitSeconds(process.pid);
    assert.ok(cpu !== undefined && cpu >= 0, `main thread cpu ${String(cpu)}`);
    assert.ok(wait !== undefined && wait >= 0, `main thread wait ${String(wait)}`);
    assert.equal(readMainThreadCpuSeconds(2 ** 31 - 1), undefined, 'no such process');
  });

  void test('reads process ticks of the whole machine, leaving out idle, iowait and interrupts', () => {
    const stat = 'cpu  100 5 50 1000 30 2 3 4 0 0\ncpu0 50 2 25 500 15 1 1 2 0 0\n';
    assert.equal(parseMachineBusyTicks(stat), 100 + 5 + 50 + 4);
    assert.equal(parseMachineBusyTicks('intr 1 2 3\n'), undefined);
  });
});

void describe('bench arguments', { timeout: 30_000 }, () => {
  void test('defaults', () => {
    const options = parseBenchArgs([]);
    assert.deepEqual(
      { ...options },
      {
        names: [],
        durationSeconds: 10,
        warmupSeconds: 3,
        connections: 64,
        threads: 1,
        json: false,
        cpuProf: false,
        help: false,
      },
    );
  });

  void test('names and options', () => {
    const options = parseBenchArgs([
      'intake',
      '--duration',
      '1m',
      '--connections',
      '32',
      '--json',
      '--warmup',
      '0',
      '--random-ids',
    ]);
    assert.deepEqual(options.names, ['intake']);
    assert.equal(options.randomIds, true);
    assert.equal(options.durationSeconds, 60);
    assert.equal(options.warmupSeconds, 0);
    assert.equal(options.connections, 32);
    assert.equal(options.json, true);
  });

  void test('usage errors exit 2 and quote the value', () => {
    for (const argv of [
      ['--duration', '10x'],
      ['--duration', '0'],
      ['--connections', '-1'],
      ['--nope'],
      ['--threads', '8', '--connections', '4'],
    ]) {
      assert.throws(
        () => parseBenchArgs(argv),
        (error: unknown) => error instanceof BenchError && error.exitCode === 2,
        argv.join(' '),
      );
    }
    assert.throws(() => parseSeconds('ten', '--duration'), /'ten'/);
  });
});
