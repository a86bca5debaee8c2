/**
 * Every source type configured with test credentials, and the headers that authenticate a body
 * for each, shared by the hostile-input corpus runner and the fuzz targets.
 */
import { createHmac } from 'node:crypto';
import type { SourceSettings } from '../../src/sources/index.ts';

export const WEBHOOK_KEY = Buffer.from('hostile-corpus-standard-webhooks-key!');
const SECRET = 'hostile-secret';
const TOKEN = 'hostile-token';

/** One entry of `sources:` per type, named after its type. */
export const SOURCE_SETTINGS: Readonly<Record<string, SourceSettings>> = {
  github: { name: 'github', type: 'github', secret: SECRET },
  gitlab: { name: 'gitlab', type: 'gitlab', token: TOKEN },
  gitea: { name: 'gitea', type: 'gitea', secret: SECRET },
  bitbucket: { name: 'bitbucket', type: 'bitbucket', secret: SECRET },
  git: { name: 'git', type: 'git', token: TOKEN },
  registry: { name: 'registry', type: 'registry', token: TOKEN },
  dockerhub: { name: 'dockerhub', type: 'dockerhub', auth: 'none' },
  harbor: { name: 'harbor', type: 'harbor', token: TOKEN },
  quay: { name: 'quay', type: 'quay', auth: 'none' },
  alertmanager: { name: 'alertmanager', type: 'alertmanager', token: TOKEN },
  grafana: { name: 'grafana', type: 'grafana', username: 'grafana', password: 'p:w' },
  'security-report': { name: 'security-report', type: 'security-report', token: TOKEN },
  eventbridge: { name: 'eventbridge', type: 'eventbridge', token: TOKEN },
  pubsub: { name: 'pubsub', type: 'pubsub', token: TOKEN },
  eventgrid: { name: 'eventgrid', type: 'eventgrid', token: TOKEN },
  webhook: {
    name: 'webhook',
    type: 'webhook',
    secret: `whsec_${WEBHOOK_KEY.toString('base64')}`,
    map: { type: "'deploy.requested'", subject: 'body.ref', data: 'body' },
  },
};

/** Headers each provider sends besides its credential, with names the mapper reads. */
export const PROVIDER_HEADERS: Readonly<Record<string, readonly string[]>> = {
  github: ['x-github-event', 'x-github-delivery'],
  gitlab: ['x-gitlab-event', 'x-gitlab-event-uuid'],
  gitea: ['x-gitea-event', 'x-gitea-delivery', 'x-forgejo-event'],
  bitbucket: ['x-event-key', 'x-request-uuid'],
  'security-report': ['x-junction-report-format', 'x-junction-report-subject'],
  webhook: ['webhook-id'],
};

let counter = 0;

/**
 * The headers that authenticate `body` for a source of `type`, computed the provider's way
 * (HMAC signatures over the exact bytes, tokens, Standard Webhooks).
 */
export function authHeaders(
  type: string,
  body: Uint8Array,
  given: Record<string, string> = {},
): Record<string, string> {
  const hex = (): string => createHmac('sha256', SECRET).update(body).digest('hex');
  switch (type) {
    case 'github':
      return { 'x-hub-signature-256': `sha256=${hex()}` };
    case 'bitbucket':
      return { 'x-hub-signature': `sha256=${hex()}` };
    case 'gitea':
      return { 'x-gitea-signature': hex() };
    case 'gitlab':
      return { 'x-gitlab-token': TOKEN };
    case 'harbor':
      return { authorization: TOKEN };
    case 'eventbridge':
      return { 'x-api-key': TOKEN };
    case 'grafana':
      return { authorization: `Basic ${Buffer.from('grafana:p:w').toString('base64')}` };
    case 'dockerhub':
    case 'quay':
      return {};
    case 'webhook': {
      counter += 1;
      return standardWebhookHeaders(body, given['webhook-id'] ?? `msg_${process.pid}_${counter}`);
    }
    default:
      return { authorization: `Bearer ${TOKEN}` };
  }
}

/** Standard Webhooks headers for `body`, signed at `at` (seconds since the epoch; default now). */
export function standardWebhookHeaders(
  body: Uint8Array,
  id: string,
  at: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const timestamp = String(at);
  const signature = createHmac('sha256', WEBHOOK_KEY)
    .update(`${id}.${timestamp}.`, 'utf8')
    .update(body)
    .digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
