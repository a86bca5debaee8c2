/**
 * JavaScript engine settings that `junction serve` applies to its own process before it starts.
 *
 * Why: under sustained intake load, V8's allocation-site pretenuring sometimes decides that the
 * objects of a busy allocation site live long (a burst in which many were alive at a young
 * collection is enough) and from then on allocates them straight in the old generation. They die
 * within milliseconds, so the old generation fills with garbage and full collections run back to
 * back: in about a third of the intake benchmark's runs, 15% fewer events per second and a p99
 * several milliseconds higher, for the life of the process (docs/decisions/0015). Without
 * pretenuring, those objects die young, as they should. A server's long-lived state is built once
 * at start and is small, so it loses nothing measurable by being promoted the ordinary way.
 *
 * What callers may assume:
 * - `engineFlags` only decides; `applyEngineFlags` sets the flags with `v8.setFlagsFromString`
 *   for the whole process, its worker threads included. Set before the server starts, the flag
 *   took effect as if given on the command line (measured: no slow phase in the runs of
 *   decision 0015).
 * - An operator's own choice wins: a flag named in the process's arguments or in `NODE_OPTIONS`,
 *   with or without `--no-`, is left as the operator set it.
 */
import { setFlagsFromString } from 'node:v8';

/** The flag `serve` turns off, by its name without `--` or `--no-`. */
const PRETENURING = 'allocation-site-pretenuring';

/** Whether an argument list names the flag, in either form (`--x`, `--no-x`, `--x=…`, `_` for `-`). */
function names(args: readonly string[], name: string): boolean {
  return args.some(
    (arg) =>
      arg
        .replace(/^--?(no-)?/, '')
        .split('=')[0]!
        .replaceAll('_', '-') === name,
  );
}

/** The flags to set, given the process's own arguments and its `NODE_OPTIONS`. */
export function engineFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const fromEnvironment = (nodeOptions ?? '').split(/\s+/).filter((arg) => arg !== '');
  return names(execArgv, PRETENURING) || names(fromEnvironment, PRETENURING) ? [] : [`--no-${PRETENURING}`];
}

/** Sets the server's engine flags for this process; returns the ones it set. */
export function applyEngineFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env['NODE_OPTIONS'],
): string[] {
  const flags = engineFlags(execArgv, nodeOptions);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
