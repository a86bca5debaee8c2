/** Query-string helpers shared by the list endpoints: single values and `limit`/`order`/`cursor`. */
import { JunctionError } from '../../errors/index.ts';

export const MAX_LIMIT = 1000;

export type Query = Record<string, string | string[] | undefined>;

/** The parameter's one value; an empty value counts as absent, a repeated one is refused. */
export function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    throw new JunctionError('API_BAD_REQUEST', `query parameter '${name}' was given more than once`);
  }
  return value === '' ? undefined : value;
}

export interface PageQuery {
  readonly limit: number;
  readonly order: 'asc' | 'desc';
  readonly cursor?: string;
}

/** `limit` (1–1000, default 100), `order` (`desc` by default) and `cursor`. */
export function parsePageQuery(query: Query): PageQuery {
  const limitText = single(query, 'limit');
  const limit = limitText === undefined ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'limit' must be an integer from 1 to ${MAX_LIMIT}, got '${String(limitText).slice(0, 20)}'`,
    );
  }
  const order = single(query, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') {
    throw new JunctionError(
      'API_BAD_REQUEST',
      `query parameter 'order' must be 'asc' or 'desc', got '${order.slice(0, 20)}'`,
    );
  }
  const cursor = single(query, 'cursor');
  return { limit, order, ...(cursor === undefined ? {} : { cursor }) };
}
