/**
 * Commit statuses for GitHub (`POST /repos/{owner}/{repo}/statuses/{sha}`) and GitLab
 * (`POST /api/v4/projects/:id/statuses/:sha`): which commit a git event names, and the request
 * that reports a run's state on it. Pure: no I/O.
 *
 * What callers may assume:
 * - `commitOf` reads `git.push` (`data.after`) and `git.pull_request` (`data.head_sha`) as the git
 *   sources map them, and answers undefined for anything else, including a repository name or a
 *   sha of an unexpected shape (a delivery cannot steer the request to another path).
 * - `statusRequest` puts the token only in a header (`Authorization: Bearer` for GitHub,
 *   `PRIVATE-TOKEN` for GitLab); the URL and body never hold it. `redactHeaders` drops both.
 * - Descriptions are at most `MAX_DESCRIPTION` characters (GitHub refuses longer ones).
 */
import type { StoredEvent } from '../events/index.ts';

export type NotifierType = 'github-status' | 'gitlab-status';
export type RunState = 'started' | 'succeeded' | 'failed' | 'cancelled';

/** What a notifier entry of `junction.yaml` says (the `notifiers[]` keys). */
export interface NotifierSettings {
  readonly type: NotifierType;
  readonly token: string;
  readonly apiUrl?: string;
  readonly context?: string;
  readonly pipelines?: readonly string[];
  readonly repositories?: readonly string[];
}

/** The commit a git event is about. */
export interface CommitTarget {
  /** `owner/name` on GitHub, the project path on GitLab. */
  readonly repository: string;
  readonly sha: string;
  /** The branch, when the event names one (GitLab's `ref`). */
  readonly ref?: string;
}

/** What is reported about a run. */
export interface RunReport {
  readonly state: RunState;
  readonly runId: string;
  readonly pipeline: string;
  /** Link to the run. */
  readonly targetUrl: string;
  readonly reason?: string;
  readonly durationMs?: number;
}

export const MAX_DESCRIPTION = 140;
export const USER_AGENT = 'junction-notifier';
export const GITHUB_API_VERSION = '2022-11-28';

const DEFAULT_API_URL: Readonly<Record<NotifierType, string>> = {
  'github-status': 'https://api.github.com',
  'gitlab-status': 'https://gitlab.com',
};

/** The source type whose events each notifier reports on. */
export const SOURCE_TYPE_OF: Readonly<Record<NotifierType, string>> = {
  'github-status': 'github',
  'gitlab-status': 'gitlab',
};

const GITHUB_STATE: Readonly<Record<RunState, string>> = {
  started: 'pending',
  succeeded: 'success',
  failed: 'failure',
  cancelled: 'error',
};

const GITLAB_STATE: Readonly<Record<RunState, string>> = {
  started: 'running',
  succeeded: 'success',
  failed: 'failed',
  cancelled: 'canceled',
};

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
const NAME_PART = '[A-Za-z0-9_.-]{1,100}';
const GITHUB_REPOSITORY = new RegExp(`^${NAME_PART}/${NAME_PART}$`);
const GITLAB_PROJECT = new RegExp(`^${NAME_PART}(?:/${NAME_PART}){1,20}$`);

/** Event types whose commit gets a status. */
export const GIT_EVENT_TYPES: ReadonlySet<string> = new Set(['git.push', 'git.pull_request']);

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The commit a `git.push` or `git.pull_request` event names, checked for `type`'s host. */
export function commitOf(stored: StoredEvent, type: NotifierType): CommitTarget | undefined {
  if (!GIT_EVENT_TYPES.has(stored.event.type)) return undefined;
  const data = record(stored.event.data);
  if (data === undefined) return undefined;
  const repo = data['repository'];
  const repository = typeof repo === 'string' ? repo : str(record(repo)?.['full_name']);
  const isPush = stored.event.type === 'git.push';
  const sha = str(isPush ? data['after'] : data['head_sha']);
  const ref = str(isPush ? data['branch'] : data['head_ref']);
  if (repository === undefined || sha === undefined || !SHA.test(sha) || /^0+$/.test(sha)) return undefined;
  const shape = type === 'github-status' ? GITHUB_REPOSITORY : GITLAB_PROJECT;
  if (!shape.test(repository) || repository.split('/').some((part) => part === '.' || part === '..')) {
    return undefined;
  }
  return { repository, sha: sha.toLowerCase(), ...(ref === undefined ? {} : { ref: ref.slice(0, 255) }) };
}

/** `text` cut to `max` characters, ending in an ellipsis when cut. */
export function truncate(text: string, max: number = MAX_DESCRIPTION): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function seconds(ms: number): string {
  if (ms < 1000) return `${String(ms)}ms`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${String(s)}s` : `${String(Math.floor(s / 60))}m ${String(s % 60)}s`;
}

/** One line for the commit page: what the run is doing or how it ended. */
export function describeRun(report: RunReport): string {
  const name = `pipeline '${report.pipeline}'`;
  const took = report.durationMs === undefined ? '' : ` in ${seconds(report.durationMs)}`;
  const reason = report.reason === undefined ? '' : `: ${report.reason.replace(/\s+/g, ' ')}`;
  switch (report.state) {
    case 'started':
      return truncate(`${name} is running`);
    case 'succeeded':
      return truncate(`${name} succeeded${took}`);
    case 'failed':
      return truncate(`${name} failed${took}${reason}`);
    case 'cancelled':
      return truncate(`${name} was cancelled${reason}`);
  }
}

/** The status's name on the commit: the configured context, else `junction/<pipeline>`. */
export function contextFor(settings: NotifierSettings, pipeline: string): string {
  return truncate(settings.context ?? `junction/${pipeline}`, 255);
}

function apiBase(settings: NotifierSettings): string {
  return (settings.apiUrl ?? DEFAULT_API_URL[settings.type]).replace(/\/+$/, '');
}

/** The request that sets the run's state on the commit. */
export function statusRequest(
  settings: NotifierSettings,
  target: CommitTarget,
  report: RunReport,
): { method: 'POST'; url: string; headers: Record<string, string>; body: string } {
  const description = describeRun(report);
  const context = contextFor(settings, report.pipeline);
  const base = apiBase(settings);
  if (settings.type === 'github-status') {
    const [owner = '', name = ''] = target.repository.split('/');
    return {
      method: 'POST',
      url: `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${target.sha}`,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${settings.token}`,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-github-api-version': GITHUB_API_VERSION,
      },
      body: JSON.stringify({
        state: GITHUB_STATE[report.state],
        target_url: report.targetUrl,
        description,
        context,
      }),
    };
  }
  return {
    method: 'POST',
    url: `${base}/api/v4/projects/${encodeURIComponent(target.repository)}/statuses/${target.sha}`,
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      'private-token': settings.token,
      'user-agent': USER_AGENT,
    },
    body: JSON.stringify({
      state: GITLAB_STATE[report.state],
      ...(target.ref === undefined ? {} : { ref: target.ref }),
      name: context,
      target_url: report.targetUrl,
      description,
    }),
  };
}

/** Request headers without the credentials, as a dead letter keeps them. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !['authorization', 'private-token'].includes(name.toLowerCase()),
    ),
  );
}

/** Whether the notifier reports runs of `pipeline` on `repository`. */
export function isWanted(settings: NotifierSettings, pipeline: string, repository?: string): boolean {
  if (settings.pipelines !== undefined && !settings.pipelines.includes(pipeline)) return false;
  if (repository === undefined || settings.repositories === undefined) return true;
  const wanted = repository.toLowerCase();
  return settings.repositories.some((name) => name.toLowerCase() === wanted);
}
