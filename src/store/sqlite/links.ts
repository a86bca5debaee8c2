/**
 * The causal-chain queries of the SQLite store (the contract is in ../store.ts): the runs an event
 * started, the re-runs of a run, and the events linked to a run by source or subject.
 *
 * What callers may assume beyond the contract: each query is one statement served by an index
 * (`runs_origin` for an event's runs, `runs_rerun_of`, `events_source_seq` and `events_subject`),
 * so its cost grows with the rows returned, not with the size of the tables.
 */
import type { StoredEvent } from '../../events/index.ts';
import { checkLimit } from '../paging.ts';
import type { LinkedRun, Store } from '../store.ts';
import { optionalText, type Row } from './rows.ts';
import { toRun, type StoreContext } from './run-state.ts';

export interface LinkContext extends Pick<StoreContext, 'run' | 'cached'> {
  /** The store's own row-to-event mapping, for rows selected with `eventColumns`. */
  readonly toStoredEvent: (row: Row) => StoredEvent;
  /** The event columns the store selects, over the alias `e`. */
  readonly eventColumns: string;
}

type LinkMethods = Pick<Store, 'listRunsOfEvent' | 'listRerunsOf' | 'listEventsLinkedTo'>;

const LINKED_RUN_COLUMNS =
  'rowid AS seq, id, event_id, pipeline, trigger_index, status, pipeline_digest, created_at, started_at, finished_at, reason, rerun_of';

function toLinkedRun(row: Row): LinkedRun {
  return { ...toRun(row), rerunOf: optionalText(row, 'rerun_of') };
}

export function linkMethods(context: LinkContext): LinkMethods {
  const { run, cached, toStoredEvent, eventColumns } = context;
  return {
    listRunsOfEvent: (eventId, limit) =>
      run('listRunsOfEvent', () =>
        cached(
          // `rerun_of IS NULL` lets the partial index runs_origin serve the lookup.
          `SELECT ${LINKED_RUN_COLUMNS} FROM runs WHERE event_id = ? AND rerun_of IS NULL ORDER BY rowid LIMIT ?`,
        )
          .all(eventId, checkLimit(limit))
          .map(toLinkedRun),
      ),

    listRerunsOf: (runId, limit) =>
      run('listRerunsOf', () =>
        cached(`SELECT ${LINKED_RUN_COLUMNS} FROM runs WHERE rerun_of = ? ORDER BY rowid LIMIT ?`)
          .all(runId, checkLimit(limit))
          .map(toLinkedRun),
      ),

    listEventsLinkedTo: (link, limit) =>
      run('listEventsLinkedTo', () => {
        const max = checkLimit(limit);
        const { source, subject } = link;
        if (source === undefined && subject === undefined) return [];
        if (subject === undefined) {
          return cached(`SELECT ${eventColumns} FROM events e WHERE e.source = ? ORDER BY e.seq LIMIT ?`)
            .all(source ?? null, max)
            .map(toStoredEvent);
        }
        if (source === undefined) {
          return cached(`SELECT ${eventColumns} FROM events e WHERE e.subject = ? ORDER BY e.seq LIMIT ?`)
            .all(subject, max)
            .map(toStoredEvent);
        }
        // Two index lookups; the second leaves out what the first found, so no event comes twice.
        return cached(
          `SELECT ${eventColumns} FROM events e WHERE e.source = ?
           UNION ALL
           SELECT ${eventColumns} FROM events e WHERE e.subject = ? AND e.source <> ?
           ORDER BY seq LIMIT ?`,
        )
          .all(source, subject, source, max)
          .map(toStoredEvent);
      }),
  };
}
