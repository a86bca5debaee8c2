/**
 * `junction validate [paths...]`: checks pipeline files (and, with no paths, junction.yaml and the
 * configured pipelines folder) without starting anything, for CI and pre-commit hooks. Every
 * problem is printed as `file:line:col path: message`. Exit 0 when everything is valid, 65 when a
 * file has problems, 78 when junction.yaml itself is invalid.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import {
  formatProblems,
  loadPipelineDir,
  parsePipeline,
  type ExpressionChecker,
  type PipelineProblem,
} from '../../pipelines/index.ts';
import { readFile } from 'node:fs/promises';
import { EXIT } from '../exit-codes.ts';
import { paint, printJson } from '../output.ts';

export interface ValidateOptions {
  /** Checks `if:` and `${{ }}` expressions; without one, only the format is checked. */
  readonly checkExpression?: ExpressionChecker;
}

interface FileReport {
  readonly file: string;
  readonly pipeline: string | null;
  readonly problems: readonly PipelineProblem[];
}

async function validatePath(target: string, options: ValidateOptions): Promise<FileReport[]> {
  const parseOptions =
    options.checkExpression === undefined ? {} : { checkExpression: options.checkExpression };
  const info = await stat(target).catch(() => undefined);
  if (info === undefined) {
    return [
      {
        file: target,
        pipeline: null,
        problems: [{ file: target, path: '', message: 'no such file or folder' }],
      },
    ];
  }
  if (info.isDirectory()) {
    const result = await loadPipelineDir(target, parseOptions);
    const reports = new Map<string, FileReport>();
    for (const [name, loaded] of result.pipelines)
      reports.set(loaded.file, { file: loaded.file, pipeline: name, problems: [] });
    for (const problem of result.problems) {
      const file = problem.file ?? target;
      const previous = reports.get(file);
      reports.set(file, {
        file,
        pipeline: previous?.pipeline ?? null,
        problems: [...(previous?.problems ?? []), problem],
      });
    }
    return [...reports.values()].sort((a, b) => a.file.localeCompare(b.file));
  }
  const text = await readFile(target, 'utf8');
  const parsed = parsePipeline(text, target, parseOptions);
  return [{ file: target, pipeline: parsed.pipeline?.name ?? null, problems: parsed.problems }];
}

export function registerValidate(program: Command, options: ValidateOptions = {}): void {
  program
    .command('validate')
    .description(
      'check pipeline files (default: junction.yaml and its pipelines folder) without running anything',
    )
    .argument('[paths...]', 'pipeline files or folders')
    .option('--json', 'print { items: [{ file, pipeline, problems }] }')
    .action(async (paths: string[], flags: { json?: boolean }) => {
      let targets = paths;
      if (targets.length === 0) {
        const configPath = program.opts<{ config?: string }>().config;
        const { config } = await loadConfig(configPath === undefined ? {} : { path: configPath });
        targets = [config.pipelines.dir];
      }
      const reports = (await Promise.all(targets.map((t) => validatePath(t, options)))).flat();
      const invalid = reports.filter((r) => r.problems.length > 0);
      if (flags.json === true) {
        printJson({ items: reports, next: null });
      } else {
        for (const report of reports) {
          if (report.problems.length === 0) {
            process.stdout.write(
              `${paint('green', 'ok')}       ${report.file}${report.pipeline === null ? '' : ` (${report.pipeline})`}\n`,
            );
          } else {
            process.stdout.write(
              `${paint('red', 'invalid')}  ${report.file}\n${formatProblems(report.problems)}\n`,
            );
          }
        }
        if (reports.length === 0) process.stdout.write('no pipeline files found\n');
        else {
          const problems = invalid.reduce((n, r) => n + r.problems.length, 0);
          process.stdout.write(
            invalid.length === 0
              ? `${reports.length} file(s) valid\n`
              : `${problems} problem(s) in ${invalid.length} of ${reports.length} file(s)\n`,
          );
        }
      }
      if (invalid.length > 0) process.exitCode = EXIT.invalid;
    });
}
