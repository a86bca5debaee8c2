/**
 * The public face of the store: the `Store` contract and `openStore`, which picks the engine from
 * a URL and brings its schema up to date.
 *
 * Accepted URLs: `sqlite:<path>` (a relative path is resolved against `baseDir`, else the working
 * directory), `sqlite:///absolute/path`, and `sqlite::memory:` for a private in-memory store
 * (tests). PostgreSQL URLs are recognised and refused until that engine ships.
 */
import { isAbsolute, resolve } from 'node:path';
import { JunctionError } from '../errors/index.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { Store, StoreDurability } from './store.ts';

export type {
  ApiTokenRecord,
  ApprovalRecord,
  DeploymentFilter,
  DeploymentPatch,
  DeploymentRecord,
  NewApproval,
  NewDeployment,
  AppendResult,
  DeadLetterFilter,
  DeadLetterKind,
  DeadLetterRecord,
  DecisionRecord,
  DeliveryAttempt,
  NewDeadLetter,
  EventLink,
  LinkedRun,
  NewDecision,
  NewRun,
  RoutingResult,
  RunFilter,
  RunRecord,
  EventFilter,
  NewEvent,
  OutboxEntry,
  OutboxStats,
  Page,
  PageRequest,
  Store,
  StoreDurability,
  TokenScope,
  ConcurrencyGroupState,
  JobExpectation,
  JobPatch,
  JobRecord,
  LogFilter,
  LogLine,
  LogStream,
  NewJob,
  NewLogLine,
  RunDetail,
  RunPatch,
  ScheduleKey,
  SecretInfo,
  StepRecord,
} from './store.ts';
export { createSqliteStore } from './sqlite/sqlite-store.ts';
export { DEAD_LETTER_CAP } from './store.ts';
export type { SqliteSettings, SqliteStore, SqliteStoreOptions } from './sqlite/sqlite-store.ts';

export interface OpenStoreOptions {
  readonly durability?: StoreDurability | undefined;
  /** Where relative `sqlite:` paths are resolved; defaults to the working directory. */
  readonly baseDir?: string | undefined;
}

const ACCEPTED_FORMS = "'sqlite:<path>', 'sqlite::memory:'";

/** Opens the store named by `url` and runs its migrations; the caller owns the result and closes it. */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const path = sqlitePath(url, options.baseDir ?? process.cwd());
  const store = createSqliteStore({
    path,
    ...(options.durability === undefined ? {} : { durability: options.durability }),
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** The file path (or `:memory:`) a store URL names; throws `CONFIG_INVALID` for anything else. */
export function sqlitePath(url: string, baseDir: string): string {
  if (/^postgres(?:ql)?:\/\//i.test(url)) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `store url '${redactUrl(url)}': PostgreSQL is not available in this version yet; use ${ACCEPTED_FORMS}`,
    );
  }
  if (!url.startsWith('sqlite:')) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `store url '${redactUrl(url)}' is not supported; expected ${ACCEPTED_FORMS}`,
    );
  }
  let path = url.slice('sqlite:'.length);
  if (path === ':memory:') return path;
  if (path.startsWith('///')) path = path.slice(2);
  else if (path.startsWith('//')) {
    throw new JunctionError(
      'CONFIG_INVALID',
      `store url '${url}' names a host; expected ${ACCEPTED_FORMS} or 'sqlite:///absolute/path'`,
    );
  }
  if (path === '') {
    throw new JunctionError('CONFIG_INVALID', `store url '${url}' has no path; expected ${ACCEPTED_FORMS}`);
  }
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** A URL for messages: any password is replaced, so a message never carries a credential. */
function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}
