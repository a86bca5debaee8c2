/**
 * The Google Cloud Pub/Sub push source (`type: pubsub`): receives the body a push subscription
 * sends, `{ message: { data, attributes, messageId, publishTime, orderingKey? }, subscription }`,
 * at `POST /hooks/<name>`.
 *
 * Authentication, one of:
 * - `audience` (+ `jwksFile`, optional `serviceAccountEmail`): the Google-signed OIDC token an
 *   authenticated push subscription sends, verified by google-oidc.ts (signature against the
 *   keys in the file, RS256, audience, issuer, expiry);
 * - `token` (or basic auth) checked by `http-auth.ts`, for a relay or proxy in front of Junction
 *   that adds the header.
 *
 * Mapping:
 * - a message whose attributes carry CloudEvents binary-mode attributes (`ce-specversion`,
 *   `ce-id`, `ce-source`, `ce-type`, …) is that CloudEvent, with the decoded `data` as its data;
 * - a message whose decoded data is a structured CloudEvent (a JSON object with `specversion`) is
 *   that CloudEvent, as is a body that is itself a structured CloudEvent (Eventarc's
 *   `google.cloud.pubsub.topic.v1.messagePublished`);
 *   these keep their own type and id, are validated, and use the default dedupe key;
 * - any other message → `gcp.pubsub.message` with id = `messageId`, source =
 *   `//pubsub.googleapis.com/<subscription>`, subject = the subscription, time = `publishTime`,
 *   dedupe key `pubsub:<CloudEvent source>:<messageId>`, and data `{ subscription, messageId,
 *   publishTime, orderingKey, attributes, data, payload }` where `data` is the decoded message
 *   (JSON when it parses, else UTF-8 text, else null) and `payload` the push body as received.
 * `map` is pure and throws only SOURCE_PAYLOAD_INVALID.
 */
import type { CloudEvent } from '../events/index.ts';
import { isJsonMediaType, isTextMediaType, parseJsonBytes, parseMediaType } from '../events/index.ts';
import {
  MAX_JSON_DEPTH,
  finishEvent,
  guardMap,
  invalid,
  kindOf,
  obj,
  readJson,
  requiredTime,
  short,
  str,
  text,
  uriSafe,
} from './cloud-bus.ts';
import type { JsonObject } from './cloud-bus.ts';
import { JunctionError } from '../errors/index.ts';
import { googleOidcFromSettings } from './google-oidc.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const PUBSUB_SOURCE_TYPE = 'pubsub';
/** Pub/Sub allows at most 100 attributes per message. */
export const PUBSUB_MAX_ATTRIBUTES = 100;
const SUBSCRIPTION = /^projects\/[^/\s]{1,100}\/subscriptions\/[^/\s]{1,255}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CE_PREFIX = 'ce-';
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createPubSubSource(settings: SourceSettings): Source {
  const oidc = googleOidcFromSettings(settings);
  const name = settings.name;
  if (oidc !== undefined) {
    if (
      settings.token !== undefined ||
      settings['username'] !== undefined ||
      settings['password'] !== undefined
    ) {
      throw new JunctionError(
        'CONFIG_INVALID',
        `sources[name=${name}]: set either audience (Google OIDC) or token/username+password, not both`,
      );
    }
    return {
      name,
      type: PUBSUB_SOURCE_TYPE,
      // The token's presence is checked at once; its signature and claims in `verify`.
      authenticate: (request: HookRequest) => oidc.requireToken(request),
      verify: (request: HookRequest) => oidc.verify(request),
      map: (request) => mapPubSubPush(request.body),
    };
  }
  const auth = httpAuthFromSettings(settings);
  return {
    name,
    type: PUBSUB_SOURCE_TYPE,
    authenticate(request: HookRequest): void {
      checkHttpAuth(auth, request, name);
    },
    map: (request) => mapPubSubPush(request.body),
  };
}

/** Maps one push body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapPubSubPush(body: Uint8Array): SourceResult {
  return guardMap('pubsub', () => {
    const value = readJson(body, 'the pubsub push body');
    const push = obj(value);
    if (push === undefined) {
      throw invalid(`the pubsub push body must be a json object (got ${kindOf(value)})`);
    }
    if (push['specversion'] !== undefined) {
      return { events: [{ event: finishEvent(push, 'the structured CloudEvent body') }] };
    }
    return { events: [mapMessage(push)] };
  });
}

function mapMessage(push: JsonObject): MappedEvent {
  const subscription = str(push['subscription']);
  if (subscription === undefined || !SUBSCRIPTION.test(subscription)) {
    throw invalid("subscription must be 'projects/<project>/subscriptions/<name>'");
  }
  const message = obj(push['message']);
  if (message === undefined) throw invalid(`message must be an object (got ${kindOf(push['message'])})`);
  const messageId = text(message['messageId']) ?? text(message['message_id']);
  if (messageId === undefined) throw invalid('message.messageId must be a non-empty string');
  const timeKey = message['publishTime'] !== undefined ? 'publishTime' : 'publish_time';
  const publishTime = requiredTime(message, timeKey, `message.${timeKey}`);
  const attributes = readAttributes(message['attributes']);
  const bytes = decodeData(message['data']);

  if (attributes[`${CE_PREFIX}specversion`] !== undefined) {
    return { event: binaryCloudEvent(attributes, bytes) };
  }
  const decoded = decodePayload(bytes);
  const structured = obj(decoded);
  if (structured !== undefined && structured['specversion'] !== undefined) {
    return { event: finishEvent(structured, 'the structured CloudEvent in message.data') };
  }
  const ceSource = `//pubsub.googleapis.com/${uriSafe(subscription)}`;
  const candidate: CloudEvent = {
    specversion: '1.0',
    id: messageId,
    source: ceSource,
    type: 'gcp.pubsub.message',
    subject: subscription,
    time: publishTime,
    datacontenttype: 'application/json',
    data: {
      subscription,
      messageId,
      publishTime,
      orderingKey: str(message['orderingKey']) ?? null,
      attributes,
      data: decoded,
      payload: push,
    },
  };
  return {
    event: finishEvent(candidate, 'the pubsub message'),
    dedupeKey: `pubsub:${ceSource}:${messageId}`,
  };
}

function readAttributes(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  const attributes = obj(value);
  if (attributes === undefined) throw invalid(`message.attributes must be an object (got ${kindOf(value)})`);
  const entries = Object.entries(attributes);
  if (entries.length > PUBSUB_MAX_ATTRIBUTES) {
    throw invalid(`message.attributes holds ${entries.length} entries (at most ${PUBSUB_MAX_ATTRIBUTES})`);
  }
  for (const [key, v] of entries) {
    if (typeof v !== 'string') throw invalid(`message.attributes.${short(key, 60)} must be a string`);
  }
  return attributes as Record<string, string>;
}

function decodeData(value: unknown): Buffer {
  if (value === undefined || value === null || value === '') return Buffer.alloc(0);
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw invalid('message.data must be base64 text');
  }
  return Buffer.from(value, 'base64');
}

/** The message data: JSON when it parses, else UTF-8 text, else null (the base64 stays in payload). */
function decodePayload(bytes: Buffer): unknown {
  if (bytes.length === 0) return null;
  let textValue: string;
  try {
    textValue = utf8.decode(bytes);
  } catch {
    return null;
  }
  try {
    return parseJsonBytes(bytes, { maxDepth: MAX_JSON_DEPTH, what: 'message.data' }).value;
  } catch {
    return textValue;
  }
}

/** A CloudEvent in binary mode: `ce-*` attributes, the message data as its data. */
function binaryCloudEvent(attributes: Record<string, string>, bytes: Buffer): CloudEvent {
  const candidate: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith(CE_PREFIX) && key.length > CE_PREFIX.length) {
      candidate[key.slice(CE_PREFIX.length)] = value;
    }
  }
  if (candidate['datacontenttype'] === undefined && attributes['content-type'] !== undefined) {
    candidate['datacontenttype'] = attributes['content-type'];
  }
  const contentType = str(candidate['datacontenttype']);
  const media = contentType === undefined ? undefined : parseMediaType(contentType);
  if (bytes.length > 0) {
    if (contentType === undefined || (media !== undefined && isJsonMediaType(media))) {
      candidate['data'] = readJson(bytes, 'the CloudEvent data in message.data');
    } else {
      let asText: string | undefined;
      try {
        asText = utf8.decode(bytes);
      } catch {
        asText = undefined;
      }
      if (asText === undefined || media === undefined || !isTextMediaType(media)) {
        candidate['data_base64'] = bytes.toString('base64');
      } else {
        candidate['data'] = asText;
      }
    }
  }
  return finishEvent(candidate, 'the CloudEvent in message.attributes');
}
