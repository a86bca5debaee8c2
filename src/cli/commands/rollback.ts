/**
 * `junction rollback ENV SERVICE [--to VERSION]`: puts the version deployed before the current
 * one (or the one named) back into the environment (`POST /api/v1/rollbacks`, scope `operate`)
 * and prints what happens: "rolling back api in prod from 2.1.0 to 2.0.0 in run run_…". The run
 * that performs it is followed with `junction logs RUN -f`. Exit codes: 0 started, 2 bad usage,
 * 4 the token may not operate, 5 the version was never deployed there, 6 refused (nothing to roll
 * back to, a rollback already under way).
 */
import type { Command } from 'commander';
import { JunctionError } from '../../errors/index.ts';
import { targetProblem } from '../../runs/index.ts';
import { clientOptions, type ClientFactory, type ClientFlags } from '../common.ts';
import { paint, printJson } from '../output.ts';
import { checkTargetName } from './deployments.ts';

/** The server's answer to a rollback request. */
export interface RollbackAnswer {
  runId: string;
  deploymentId: string;
  environment: string;
  service: string;
  from: { version: string; runId: string; deploymentId: string };
  to: { version: string; runId: string; deploymentId: string };
}

export function formatRollback(answer: RollbackAnswer): string {
  return `rolling back ${answer.service} in ${answer.environment} from ${answer.from.version} to ${answer.to.version} in run ${answer.runId}\n`;
}

export function registerRollback(program: Command, clientFrom: ClientFactory): void {
  clientOptions(
    program
      .command('rollback')
      .description('roll a service in an environment back to the version before (or --to one)')
      .argument('<environment>', 'the environment, e.g. prod')
      .argument('<service>', 'the service, e.g. api')
      .option('--to <version>', 'the version to go back to (default: the one deployed before the current)')
      .option('--json', 'print the server answer as JSON'),
  ).action(
    async (environment: string, service: string, flags: ClientFlags & { to?: string; json?: boolean }) => {
      checkTargetName('environment', environment);
      checkTargetName('service', service);
      if (flags.to !== undefined) {
        const problem = targetProblem({ name: 'x', service: 'x', version: flags.to });
        if (problem !== undefined) throw new JunctionError('CLI_USAGE', `--to: ${problem}`);
      }
      const { body } = await clientFrom(flags).request<RollbackAnswer>('POST', '/api/v1/rollbacks', {
        body: JSON.stringify({ environment, service, ...(flags.to === undefined ? {} : { to: flags.to }) }),
        headers: { 'content-type': 'application/json' },
      });
      if (flags.json === true) {
        printJson(body);
        return;
      }
      process.stdout.write(formatRollback(body));
      process.stderr.write(paint('dim', `follow it with: junction logs ${body.runId} -f\n`, process.stderr));
    },
  );
}
