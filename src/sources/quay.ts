/**
 * The Quay source (`type: quay`): receives Quay repository notifications and maps each "Push to
 * Repository" (`repo_push`) delivery to one `image.pushed` per entry of `updated_tags`.
 *
 * Quay notifications carry no signature and Quay cannot add a header to them, so nothing in a
 * delivery proves it came from Quay. The source refuses to start unless its entry sets
 * `auth: none` (Junction warns about it at start-up). The `docker_url` check below is a sanity
 * check, not authentication: it refuses deliveries naming another registry host.
 *
 * What callers may assume:
 * - `authenticate` accepts every request; `map` refuses (SOURCE_PAYLOAD_INVALID) a delivery whose
 *   `docker_url` host is not the `registry` setting (default `quay.io`, compared without case).
 * - A body without `updated_tags` (Quay's other notifications: builds, vulnerabilities) maps to
 *   no event and a note.
 * - Quay sends no delivery id, push time or digest: `time` is the time of receipt, `data.digest`
 *   is null, and `id` is `<repository>:<tag>:<receipt time in ms>`, so one request always maps to
 *   the same ids (the dedupe key is `quay:<source name>:<id>`) while a later push of the same tag
 *   is a new event. A delivery Quay retries is therefore stored again.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID; at most `QUAY_MAX_TAGS` tags.
 */
import type { CloudEvent } from '../events/index.ts';
import {
  asPayloadInvalid,
  kindOf,
  mappedEvent,
  optionalString,
  payloadInvalid,
  readJsonObject,
  requireAuthNone,
  requireString,
  stringSetting,
} from './image-common.ts';
import type { JsonObject } from './image-common.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const QUAY_SOURCE_TYPE = 'quay';
/** The registry host a `docker_url` must name when the entry sets no `registry`. */
export const QUAY_DEFAULT_REGISTRY = 'quay.io';
/** The most tags one delivery may carry. */
export const QUAY_MAX_TAGS = 1000;

export function createQuaySource(settings: SourceSettings): Source {
  requireAuthNone(
    settings,
    'quay notifications cannot be authenticated (no signature, no custom headers); add `auth: none` to accept that anyone who knows the hook url can send image.pushed events',
  );
  const name = settings.name;
  const registry = (stringSetting(settings, name, 'registry') ?? QUAY_DEFAULT_REGISTRY).toLowerCase();
  return {
    name,
    type: settings.type,
    authenticate(): void {
      // Quay sends no credential; accepted by `auth: none`.
    },
    map(request: HookRequest): SourceResult {
      return mapQuayDelivery(name, request, registry);
    },
  };
}

/** Maps one Quay notification body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapQuayDelivery(
  sourceName: string,
  request: HookRequest,
  registry: string = QUAY_DEFAULT_REGISTRY,
): SourceResult {
  try {
    return mapBody(sourceName, readJsonObject(request.body, 'quay payload'), registry, request.receivedAt);
  } catch (error) {
    throw asPayloadInvalid(error, 'quay payload');
  }
}

function mapBody(sourceName: string, body: JsonObject, registry: string, receivedAt: Date): SourceResult {
  if (body.updated_tags === undefined) {
    return { events: [], note: 'not a quay repository push notification (no updated_tags); nothing stored' };
  }
  const tags = readTags(body.updated_tags);
  const repository = requireString(body, 'repository', 'repository', 512);
  const dockerUrl = requireString(body, 'docker_url', 'docker_url', 2048);
  const host = hostOf(dockerUrl);
  if (host !== registry) throw payloadInvalid(`docker_url must name the registry ${registry}`);
  const namespace = optionalString(body, 'namespace', 'namespace', 256);
  const shortName = optionalString(body, 'name', 'name', 256);
  const homepage = optionalString(body, 'homepage', 'homepage', 2048);
  const time = receivedAt.toISOString();
  const events: MappedEvent[] = tags.map((tag) => {
    const id = `${repository}:${tag}:${String(receivedAt.getTime())}`;
    const candidate: CloudEvent = {
      specversion: '1.0',
      id,
      source: `${QUAY_SOURCE_TYPE}/${sourceName}`,
      type: 'image.pushed',
      subject: `${repository}:${tag}`,
      time,
      datacontenttype: 'application/json',
      data: {
        registry: host,
        repository,
        namespace: namespace ?? null,
        name: shortName ?? null,
        tag,
        digest: null,
        media_type: null,
        size: null,
        actor: null,
        pushed_at: time,
        repo_url: homepage ?? null,
        payload: body,
      },
    };
    return mappedEvent(candidate, `${QUAY_SOURCE_TYPE}:${sourceName}:${id}`, 'quay payload');
  });
  return events.length === 0
    ? { events, note: 'quay push notification names no tag; nothing stored' }
    : { events };
}

function readTags(value: unknown): string[] {
  if (!Array.isArray(value)) throw payloadInvalid(`updated_tags must be an array (got ${kindOf(value)})`);
  if (value.length > QUAY_MAX_TAGS)
    throw payloadInvalid(`updated_tags has more than ${QUAY_MAX_TAGS} entries`);
  const tags: string[] = [];
  for (const [index, tag] of value.entries()) {
    if (typeof tag !== 'string' || tag === '' || tag.length > 256) {
      throw payloadInvalid(`updated_tags[${index}] must be a tag of 1 to 256 characters`);
    }
    if (!tags.includes(tag)) tags.push(tag);
  }
  return tags;
}

/** The lower-cased host (with port) of a `docker_url`, written with or without a scheme. */
function hostOf(dockerUrl: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(dockerUrl) ? dockerUrl : `https://${dockerUrl}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (error) {
    throw payloadInvalid('docker_url is not a registry url', error);
  }
  if (url.username !== '' || url.password !== '' || url.hostname === '') {
    throw payloadInvalid('docker_url is not a registry url');
  }
  return url.host.toLowerCase();
}
