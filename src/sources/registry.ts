/**
 * The CNCF distribution registry source (`type: registry`): receives the registry's notifications
 * (`application/vnd.docker.distribution.events.v1+json`, an envelope `{ "events": [...] }`) and
 * maps manifest pushes to `image.pushed` and deletions to `image.deleted`.
 *
 * What callers may assume:
 * - Authentication is a bearer token or basic auth (see `http-auth.ts`), checked before parsing;
 *   the registry sends it through its endpoint's `headers:` setting.
 * - One event per mapped envelope entry, in order. A `push` maps only when `target.mediaType` is a
 *   manifest or index type (`REGISTRY_MANIFEST_TYPES`); blob pushes, pulls, mounts and unknown
 *   actions are skipped and counted in the `note`.
 * - CloudEvent `id` is the entry's `id`, `source` is `registry/<source name>`, the dedupe key is
 *   `registry:<source name>:<id>`, so a redelivered notification is stored once.
 * - `data.registry` is the `registry` setting when set, else the entry's `request.host`.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID; a delivery is refused as a whole,
 *   never half mapped. At most `REGISTRY_MAX_EVENTS` entries are accepted.
 */
import { parseMediaType } from '../events/index.ts';
import type { CloudEvent } from '../events/index.ts';
import { checkHttpAuth, httpAuthFromSettings } from './http-auth.ts';
import {
  asPayloadInvalid,
  isObject,
  kindOf,
  mappedEvent,
  optionalNumber,
  optionalString,
  payloadInvalid,
  readJsonObject,
  requireObject,
  requireString,
  rfc3339OrUndefined,
  stringSetting,
} from './image-common.ts';
import type { JsonObject } from './image-common.ts';
import type { HookRequest, MappedEvent, Source, SourceResult, SourceSettings } from './source.ts';

export const REGISTRY_SOURCE_TYPE = 'registry';
/** The most entries one notification envelope may carry. */
export const REGISTRY_MAX_EVENTS = 1000;
/** The envelope's media type, as the registry sends it. */
export const REGISTRY_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
/** Media types of manifests and indexes: a `push` of anything else is a blob. */
export const REGISTRY_MANIFEST_TYPES: readonly string[] = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.artifact.manifest.v1+json',
];
const ACCEPTED_CONTENT_TYPES = [REGISTRY_EVENTS_MEDIA_TYPE, 'application/json'];

export function createRegistrySource(settings: SourceSettings): Source {
  const auth = httpAuthFromSettings(settings);
  const registry = stringSetting(settings, settings.name, 'registry');
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(request: HookRequest): void {
      checkHttpAuth(auth, request, name);
    },
    map(request: HookRequest): SourceResult {
      return mapRegistryNotification(name, request, registry);
    },
  };
}

interface Skipped {
  pulls: number;
  blobs: number;
  other: number;
}

/** Maps one notification envelope; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapRegistryNotification(
  sourceName: string,
  request: HookRequest,
  registry?: string,
): SourceResult {
  try {
    checkContentType(request.headers['content-type']);
    const body = readJsonObject(request.body, 'registry notification');
    const entries = body.events;
    if (!Array.isArray(entries)) {
      throw payloadInvalid(`registry notification needs 'events' as an array (got ${kindOf(entries)})`);
    }
    if (entries.length > REGISTRY_MAX_EVENTS) {
      throw payloadInvalid(
        `registry notification holds ${entries.length} events (at most ${REGISTRY_MAX_EVENTS} per delivery)`,
      );
    }
    const skipped: Skipped = { pulls: 0, blobs: 0, other: 0 };
    const events: MappedEvent[] = [];
    for (const [index, entry] of entries.entries()) {
      const mapped = mapEntry(entry, `events[${index}]`, sourceName, registry, skipped);
      if (mapped !== undefined) events.push(mapped);
    }
    const note = skippedNote(skipped, events.length);
    return note === undefined ? { events } : { events, note };
  } catch (error) {
    throw asPayloadInvalid(error, 'registry notification');
  }
}

function checkContentType(header: string | undefined): void {
  if (header === undefined) return;
  const essence = parseMediaType(header)?.essence;
  if (essence === undefined || !ACCEPTED_CONTENT_TYPES.includes(essence)) {
    throw payloadInvalid(`registry notification must be sent as ${REGISTRY_EVENTS_MEDIA_TYPE}`);
  }
}

function mapEntry(
  entry: unknown,
  path: string,
  sourceName: string,
  registrySetting: string | undefined,
  skipped: Skipped,
): MappedEvent | undefined {
  if (!isObject(entry)) throw payloadInvalid(`${path} must be an object (got ${kindOf(entry)})`);
  const id = requireString(entry, 'id', `${path}.id`, 256);
  const action = requireString(entry, 'action', `${path}.action`, 64);
  const target = requireObject(entry, 'target', `${path}.target`);
  const mediaType = optionalString(target, 'mediaType', `${path}.target.mediaType`, 256);
  if (action === 'pull') {
    skipped.pulls += 1;
    return undefined;
  }
  if (action === 'push' && (mediaType === undefined || !REGISTRY_MANIFEST_TYPES.includes(mediaType))) {
    skipped.blobs += 1;
    return undefined;
  }
  if (action !== 'push' && action !== 'delete') {
    skipped.other += 1;
    return undefined;
  }

  const repository = requireString(target, 'repository', `${path}.target.repository`);
  const tag = optionalString(target, 'tag', `${path}.target.tag`, 256);
  const digest = optionalString(target, 'digest', `${path}.target.digest`, 256);
  if (action === 'push' && (digest === undefined || digest === '')) {
    throw payloadInvalid(`${path}.target.digest must be a non-empty string for a manifest push`);
  }
  if (action === 'delete' && !tag && !digest) {
    throw payloadInvalid(`${path}.target needs a digest or a tag for a delete`);
  }
  const size = optionalNumber(target, 'size', `${path}.target.size`);
  const request = entry.request === undefined ? {} : requireObject(entry, 'request', `${path}.request`);
  const actor = entry.actor === undefined ? {} : requireObject(entry, 'actor', `${path}.actor`);
  const host = optionalString(request, 'host', `${path}.request.host`, 256);
  const actorName = optionalString(actor, 'name', `${path}.actor.name`, 256);
  const registry = registrySetting ?? (host === '' ? undefined : host) ?? null;
  const time = rfc3339OrUndefined(entry.timestamp);

  const data: JsonObject = {
    registry,
    repository,
    tag: tag === undefined || tag === '' ? null : tag,
    digest: digest === undefined || digest === '' ? null : digest,
    media_type: mediaType ?? null,
    size: size ?? null,
    actor: actorName === undefined || actorName === '' ? null : actorName,
    payload: entry,
  };
  const candidate: CloudEvent = {
    specversion: '1.0',
    id,
    source: `${REGISTRY_SOURCE_TYPE}/${sourceName}`,
    type: action === 'push' ? 'image.pushed' : 'image.deleted',
    subject: subjectOf(repository, data.tag, data.digest),
    ...(time === undefined ? {} : { time }),
    datacontenttype: 'application/json',
    data,
  };
  return mappedEvent(candidate, `${REGISTRY_SOURCE_TYPE}:${sourceName}:${id}`, path);
}

/** `repo:tag`, else `repo@digest`, else the repository alone. */
export function subjectOf(repository: string, tag: unknown, digest: unknown): string {
  if (typeof tag === 'string') return `${repository}:${tag}`;
  if (typeof digest === 'string') return `${repository}@${digest}`;
  return repository;
}

function skippedNote(skipped: Skipped, mapped: number): string | undefined {
  const parts: string[] = [];
  if (skipped.pulls > 0) parts.push(`${skipped.pulls} pull${skipped.pulls === 1 ? '' : 's'}`);
  if (skipped.blobs > 0) parts.push(`${skipped.blobs} blob push${skipped.blobs === 1 ? '' : 'es'}`);
  if (skipped.other > 0) parts.push(`${skipped.other} other action${skipped.other === 1 ? '' : 's'}`);
  if (parts.length === 0) return mapped === 0 ? 'registry notification holds no events' : undefined;
  return `skipped ${parts.join(', ')}`;
}
