/**
 * Process probes for tests that start real processes: read /proc (Linux) to see whether a process
 * or a whole process group is still alive, and wait until a condition holds.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

/** The state letter from /proc/<pid>/stat, undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOENT');
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/**
 * Whether the process runs. A zombie counts as gone: it holds no resources but its pid, and an
 * orphan stays one until the machine's init reaps it, which in containers can take a while.
 */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

/** Pids of running (not zombie) processes in the process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch (error) {
      // The process exited while the list was read.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}

export async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
