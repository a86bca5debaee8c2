/**
 * Linux /proc readers for the benchmarks: a process's resident memory (now and peak), its CPU
 * time, the CPU time of this process's reaped children (how wrk's CPU time is measured), and the
 * CPU and iowait time of the whole machine (so a report can say how much other processes used while
 * it measured, and how long the cpus waited for the disk). The parsers are pure; the readers return undefined instead of a wrong figure when
 * /proc is missing or the process is gone.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the most that was ever resident. */
  readonly peakRssBytes: number;
}

/** Reads VmRSS and VmHWM (kB) from the text of /proc/<pid>/status. */
export function parseProcStatus(text: string): ProcessMemory | undefined {
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match === null ? undefined : Number(match[1]) * 1024;
  };
  const rss = field('VmRSS');
  const hwm = field('VmHWM');
  return rss === undefined || hwm === undefined ? undefined : { rssBytes: rss, peakRssBytes: hwm };
}

/** Fields of /proc/<pid>/stat after the command name (field 3 is index 0). */
function statFields(text: string): string[] {
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function sumFields(fields: readonly string[], indexes: readonly number[]): number | undefined {
  const values = indexes.map((i) => Number(fields[i]));
  return values.every((v) => Number.isFinite(v)) ? values.reduce((a, b) => a + b, 0) : undefined;
}

/** utime + stime (fields 14 and 15) of the text of /proc/<pid>/stat, in clock ticks. */
export function parseProcStatTicks(text: string): number | undefined {
  return sumFields(statFields(text), [11, 12]);
}

/** cutime + cstime (fields 16 and 17): CPU of children that exited and were waited for. */
export function parseProcStatChildTicks(text: string): number | undefined {
  return sumFields(statFields(text), [13, 14]);
}

/**
 * Ticks all cpus spent running processes, from the text of /proc/stat: user, nice, system and
 * steal. Idle and iowait are left out, and so are irq and softirq: interrupt work (loopback
 * networking, disk completions) is charged to no process, so counting it would blame "other
 * processes" for the traffic of the benchmark itself.
 */
export function parseMachineBusyTicks(text: string): number | undefined {
  const line = /^cpu\s+(.*)$/m.exec(text)?.[1];
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  return sumFields(line.trim().split(/\s+/), [0, 1, 2, 7]);
}

/** Ticks all cpus sat idle while a process waited for disk I/O (iowait), from /proc/stat. */
export function parseMachineIoWaitTicks(text: string): number | undefined {
  const line = /^cpu\s+(.*)$/m.exec(text)?.[1];
  return line === undefined ? undefined : sumFields(line.trim().split(/\s+/), [4]);
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // getconf missing: 100 is the Linux value on every common architecture.
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readTicks(path: string, parse: (text: string) => number | undefined): number | undefined {
  try {
    const ticks = parse(readFileSync(path, 'utf8'));
    return ticks === undefined ? undefined : ticks / ticksPerSecond();
  } catch {
    // Not Linux, or the process is gone: no figure rather than a wrong one.
    return undefined;
  }
}

export function readProcessMemory(pid: number): ProcessMemory | undefined {
  try {
    return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    // Not Linux, or the process is gone.
    return undefined;
  }
}

/** User + system CPU seconds used by a process so far. */
export function readCpuSeconds(pid: number): number | undefined {
  return readTicks(`/proc/${pid}/stat`, parseProcStatTicks);
}

/** User + system CPU seconds of a process's main thread (for Node, its event loop) so far. */
export function readMainThreadCpuSeconds(pid: number): number | undefined {
  return readTicks(`/proc/${pid}/task/${pid}/stat`, parseProcStatTicks);
}

/**
 * Seconds a thread has spent runnable but waiting for a cpu, from the text of
 * /proc/<pid>/task/<tid>/schedstat: its second field, in nanoseconds (the first is time on a cpu,
 * the third the number of time slices).
 */
export function parseSchedstatWaitSeconds(text: string): number | undefined {
  const fields = text.trim().split(/\s+/);
  const wait = Number(fields[1]);
  return fields.length >= 3 && Number.isFinite(wait) ? wait / 1e9 : undefined;
}

/** Seconds the main thread (the event loop) has waited for a cpu while runnable, so far. */
export function readMainThreadWaitSeconds(pid: number): number | undefined {
  try {
    return parseSchedstatWaitSeconds(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8'));
  } catch {
    // Not Linux, a kernel without scheduler statistics, or the process is gone.
    return undefined;
  }
}

/** CPU seconds of this process's children that have exited (wrk runs, once reaped). */
export function readReapedChildrenCpuSeconds(): number | undefined {
  return readTicks('/proc/self/stat', parseProcStatChildTicks);
}

/** CPU seconds this process has used itself. */
export function readOwnCpuSeconds(): number | undefined {
  return readTicks('/proc/self/stat', parseProcStatTicks);
}

/** CPU seconds all processes of the machine used since boot, summed over cpus. */
export function readMachineBusySeconds(): number | undefined {
  return readTicks('/proc/stat', parseMachineBusyTicks);
}

/** CPU seconds the machine's cpus idled waiting for disk I/O since boot, summed over cpus. */
export function readMachineIoWaitSeconds(): number | undefined {
  return readTicks('/proc/stat', parseMachineIoWaitTicks);
}
