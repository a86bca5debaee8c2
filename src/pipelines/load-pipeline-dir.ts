/**
 * Loading every pipeline file of a folder (`*.yaml` and `*.yml` directly in it, in name order),
 * and watching the folder so changes take effect without a restart. A broken file is refused and
 * its problems reported; the other files still load. Two files with the same pipeline `name`: the
 * first in name order keeps it, the later ones are refused.
 *
 * Callers may assume: the promise resolves unless the folder itself cannot be read (then it
 * rejects with `CONFIG_NOT_FOUND`); problems are sorted by file, then position; the watcher calls
 * back with a complete, fresh result after each burst of changes, never with a half-read folder.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { JunctionError } from '../errors/index.ts';
import { positionOf, parseYamlDocument } from '../yaml/index.ts';
import { MAX_PIPELINE_FILE_BYTES, parsePipeline, type ParsePipelineOptions } from './parse-pipeline.ts';
import type { PipelineProblem, PipelineSpec } from './types.ts';

export interface LoadedPipeline {
  readonly spec: PipelineSpec;
  /** The file's path as built from the folder given (`pipelines/ci.yaml`). */
  readonly file: string;
}

export interface PipelineDirResult {
  /** Pipeline name → spec and file, in file name order. */
  readonly pipelines: ReadonlyMap<string, LoadedPipeline>;
  readonly problems: readonly PipelineProblem[];
}

const isPipelineFile = (name: string): boolean => /\.ya?ml$/i.test(name) && !name.startsWith('.');

async function readPipelineFile(
  file: string,
  options: ParsePipelineOptions,
): Promise<{ pipeline?: PipelineSpec; text?: string; problems: readonly PipelineProblem[] }> {
  try {
    const { size, isFile } = await stat(file).then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) return { problems: [] };
    if (size > MAX_PIPELINE_FILE_BYTES) {
      return {
        problems: [
          {
            file,
            path: '',
            message: `the file is ${size} bytes; pipeline files may hold at most ${MAX_PIPELINE_FILE_BYTES}`,
          },
        ],
      };
    }
    const text = await readFile(file, 'utf8');
    return { ...parsePipeline(text, file, options), text };
  } catch (err) {
    // Removed between listing and reading, or unreadable: reported, the others still load.
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    return { problems: [{ file, path: '', message: `cannot read the file (${code})` }] };
  }
}

/** The position of `name:` in a file, for a duplicate-name problem. */
function namePosition(text: string, file: string): { line?: number; column?: number } {
  const { document } = parseYamlDocument(text, file, { uniqueKeys: false });
  return positionOf(document, ['name']) ?? {};
}

/** Loads every pipeline file in `dir`. */
export async function loadPipelineDir(
  dir: string,
  options: ParsePipelineOptions = {},
): Promise<PipelineDirResult> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isPipelineFile).sort();
  } catch (err) {
    throw new JunctionError('CONFIG_NOT_FOUND', `cannot read the pipelines folder '${dir}'`, {
      cause: err,
    });
  }
  const results = await Promise.all(
    names.map((name) =>
      readPipelineFile(path.join(dir, name), options).then((r) => ({ ...r, file: path.join(dir, name) })),
    ),
  );
  const pipelines = new Map<string, LoadedPipeline>();
  const problems: PipelineProblem[] = [];
  for (const result of results) {
    problems.push(...result.problems);
    if (!result.pipeline) continue;
    const existing = pipelines.get(result.pipeline.name);
    if (existing) {
      problems.push({
        file: result.file,
        path: 'name',
        message: `pipeline name '${result.pipeline.name}' is already used by ${existing.file}; this file is not loaded`,
        ...namePosition(result.text ?? '', result.file),
      });
      continue;
    }
    pipelines.set(result.pipeline.name, { spec: result.pipeline, file: result.file });
  }
  return { pipelines, problems };
}

export interface WatchPipelineDirOptions extends ParsePipelineOptions {
  /** Quiet time after the last change before the folder is reloaded. Default 100 ms. */
  readonly debounceMs?: number;
  /** Called when a reload fails as a whole (the folder is gone); the watcher keeps watching. */
  readonly onError?: (err: unknown) => void;
}

export interface PipelineDirWatcher {
  /** Stops watching; no callback runs after it returns. */
  close(): void;
}

/**
 * Watches `dir` and calls `onChange` with a fresh `loadPipelineDir` result after files are
 * added, changed or removed (bursts of changes are debounced into one reload; reloads never
 * overlap). The initial load is the caller's: call `loadPipelineDir` first.
 */
export function watchPipelineDir(
  dir: string,
  onChange: (result: PipelineDirResult) => void,
  options: WatchPipelineDirOptions = {},
): PipelineDirWatcher {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running = false;
  let again = false;
  const report = options.onError ?? (() => undefined);

  const reload = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const result = await loadPipelineDir(dir, options);
        if (!closed && !again) onChange(result);
      } while (again && !closed);
    } catch (err) {
      if (!closed) report(err);
    } finally {
      running = false;
    }
  };

  const schedule = (name: string | null): void => {
    if (closed || (name !== null && !isPipelineFile(name))) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };

  const watcher: FSWatcher = watch(dir, { persistent: false }, (_event, name) => schedule(name));
  watcher.on('error', (err) => {
    if (!closed) report(err);
  });
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
