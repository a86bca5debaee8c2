/**
 * `junction graph [dir]`: prints how events flow between the pipelines of a folder (default: the
 * configured pipelines folder) as a Mermaid `flowchart LR`, for docs and reviews; `--json` prints
 * `{ nodes, edges }` instead. Works offline, like `validate`. A file with problems is left out of
 * the picture and its problems go to stderr; the graph of the valid files is still printed, and
 * the exit code is then 65, as for `validate`.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { JunctionError } from '../../errors/index.ts';
import {
  formatProblems,
  loadPipelineDir,
  pipelineFlow,
  renderMermaid,
  type ExpressionChecker,
} from '../../pipelines/index.ts';
import { EXIT } from '../exit-codes.ts';
import { paint, printJson } from '../output.ts';

export interface GraphOptions {
  /** Checks `if:` and `${{ }}` expressions, so the graph holds what the server would load. */
  readonly checkExpression?: ExpressionChecker;
}

export function registerGraph(program: Command, options: GraphOptions = {}): void {
  program
    .command('graph')
    .description('print how events flow between pipelines, as a Mermaid flowchart')
    .argument('[dir]', 'pipelines folder (default: pipelines.dir of the configuration)')
    .option('--json', 'print { nodes, edges } instead of Mermaid')
    .action(async (dirArgument: string | undefined, flags: { json?: boolean }) => {
      let dir = dirArgument;
      if (dir === undefined) {
        const configPath = program.opts<{ config?: string }>().config;
        const { config } = await loadConfig(configPath === undefined ? {} : { path: configPath });
        dir = config.pipelines.dir;
      } else {
        const info = await stat(dir).catch(() => undefined);
        if (info?.isDirectory() !== true)
          throw new JunctionError('CLI_USAGE', `'${dir}' is not a folder; give the folder of pipeline files`);
      }
      const parseOptions =
        options.checkExpression === undefined ? {} : { checkExpression: options.checkExpression };
      const result = await loadPipelineDir(dir, parseOptions);
      const flow = pipelineFlow([...result.pipelines.values()].map((loaded) => loaded.spec));
      if (flags.json === true) printJson(flow);
      else process.stdout.write(renderMermaid(flow));
      if (result.problems.length > 0) {
        const files = new Set(result.problems.map((p) => p.file ?? dir)).size;
        process.stderr.write(
          `${formatProblems(result.problems)}\n${paint('red', 'left out', process.stderr)} ${files} file(s) with problems (see junction validate)\n`,
        );
        process.exitCode = EXIT.invalid;
      }
    });
}
