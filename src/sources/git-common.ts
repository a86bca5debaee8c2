/**
 * Helpers shared by the git-host sources (GitHub, GitLab, Gitea/Forgejo, Bitbucket): reading a JSON
 * body, reading a delivery id from a header, the commit and changed-files shapes of `git.push`,
 * and the last check that a produced event is a valid CloudEvent.
 *
 * What callers may assume:
 * - Every reader throws `SOURCE_PAYLOAD_INVALID` and nothing else, with a message that quotes at
 *   most a short, bounded piece of the offending value and never a header holding a secret.
 * - Lists are bounded: at most `GIT_MAX_COMMITS` commits are kept, and a changed-files list is
 *   only produced when it is known to be complete (`undefined` means "unknown").
 */
import type { CloudEvent } from '../events/index.ts';
import { parseJsonBytes, validateCloudEvent } from '../events/index.ts';
import { JunctionError, errorMessage } from '../errors/index.ts';

/** At most this many commits are kept in `data.commits` of one event. */
export const GIT_MAX_COMMITS = 100;
/** At most this many entries of a list in a payload (commits, changes, files) are read. */
export const GIT_MAX_LIST = 1000;
/** A commit with this many paths in one of its lists may have been cut by the provider. */
export const GIT_MAX_COMMIT_FILES = 3000;
const MAX_JSON_DEPTH = 64;
const MAX_ID_LENGTH = 200;
const ZERO_SHA = /^0+$/;

export type JsonRecord = Record<string, unknown>;

export function obj(value: unknown): JsonRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonRecord)
    : undefined;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** True for an all-zeros commit id (a created or deleted ref). */
export function isZeroSha(sha: string | undefined): boolean {
  return sha !== undefined && ZERO_SHA.test(sha);
}

export function isoTime(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function invalid(message: string, cause?: unknown): JunctionError {
  return new JunctionError('SOURCE_PAYLOAD_INVALID', message, cause === undefined ? {} : { cause });
}

/** Cuts a provider-chosen value for use in a message. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The body as a JSON object, or `SOURCE_PAYLOAD_INVALID`. */
export function readJsonObject(body: Uint8Array): JsonRecord {
  let value: unknown;
  try {
    value = parseJsonBytes(body, { maxDepth: MAX_JSON_DEPTH, what: 'the payload' }).value;
  } catch (error) {
    throw invalid(`the payload is not valid JSON: ${errorMessage(error)}`, error);
  }
  const payload = obj(value);
  if (payload === undefined) throw invalid('the payload is not a JSON object');
  return payload;
}

/**
 * The first present header of `names` (lower case), trimmed, checked to look like an id:
 * printable ASCII without spaces, at most 200 characters. Missing everywhere → `undefined`.
 */
export function idHeader(
  headers: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): string | undefined {
  for (const name of names) {
    const value = headers[name]?.trim();
    if (value === undefined || value === '') continue;
    if (value.length > MAX_ID_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
      throw invalid(`the ${name} header is not a delivery id (expected a UUID)`);
    }
    return value;
  }
  return undefined;
}

/** One commit of a push, in the shape of GitHub's `commits[]` (no file lists). */
export function commitOf(value: unknown): JsonRecord {
  const commit = obj(value) ?? {};
  const author = obj(commit['author']) ?? {};
  return {
    id: str(commit['id']),
    message: str(commit['message']),
    author: { name: str(author['name']), email: str(author['email']) },
    timestamp: str(commit['timestamp']),
    url: str(commit['url']),
  };
}

/**
 * The sorted union of the commits' added/modified/removed paths, or `undefined` when a commit
 * has none of the three lists, a list has the wrong shape, or a list may have been cut
 * (`isComplete` false, too many entries).
 */
export function changedFilesOf(commits: readonly unknown[], isComplete: boolean): string[] | undefined {
  if (!isComplete || commits.length > GIT_MAX_LIST) return undefined;
  const files = new Set<string>();
  for (const value of commits) {
    const commit = obj(value);
    if (commit === undefined) return undefined;
    if (!['added', 'modified', 'removed'].some((key) => Array.isArray(commit[key]))) return undefined;
    for (const key of ['added', 'modified', 'removed']) {
      const paths = commit[key];
      if (paths === undefined || paths === null) continue;
      if (!Array.isArray(paths) || paths.length >= GIT_MAX_COMMIT_FILES) return undefined;
      for (const path of paths) {
        if (typeof path !== 'string') return undefined;
        files.add(path);
      }
    }
  }
  return [...files].sort();
}

/** Runs `validateCloudEvent` on a produced event; a failure is the payload's fault. */
export function validEvent(candidate: CloudEvent): CloudEvent {
  try {
    return validateCloudEvent(candidate);
  } catch (error) {
    throw invalid(`the payload does not make a valid event: ${errorMessage(error)}`, error);
  }
}
