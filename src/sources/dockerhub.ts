/**
 * The Docker Hub source (`type: dockerhub`): receives Docker Hub's repository webhook and maps
 * each delivery (one tag pushed) to one `image.pushed` event for registry `docker.io`.
 *
 * Docker Hub webhooks carry no signature and no configurable header, so nothing in a delivery
 * proves it came from Docker Hub. The source therefore refuses to start unless its entry sets
 * `auth: none`, an explicit acceptance of forged deliveries (Junction warns about it at start-up);
 * the `callback_url` check below only rejects payloads that do not even claim to come from Docker
 * Hub.
 *
 * What callers may assume:
 * - `authenticate` accepts every request (there is nothing to check); `map` refuses a delivery
 *   whose `callback_url` is not an https URL on `registry.hub.docker.com`.
 * - CloudEvent `id` is `<repo_name>:<tag>:<pushed_at>`, `source` is `dockerhub/<source name>`,
 *   the dedupe key is `dockerhub:<source name>:<id>`: a redelivery is stored once.
 * - `map` is pure and throws only SOURCE_PAYLOAD_INVALID.
 */
import type { CloudEvent } from '../events/index.ts';
import {
  asPayloadInvalid,
  mappedEvent,
  optionalNumber,
  optionalString,
  payloadInvalid,
  readJsonObject,
  requireAuthNone,
  requireObject,
  requireString,
  unixSecondsToRfc3339,
} from './image-common.ts';
import type { JsonObject } from './image-common.ts';
import type { HookRequest, Source, SourceResult, SourceSettings } from './source.ts';

export const DOCKERHUB_SOURCE_TYPE = 'dockerhub';
/** The only host a Docker Hub `callback_url` may name. */
export const DOCKERHUB_CALLBACK_HOST = 'registry.hub.docker.com';
export const DOCKERHUB_REGISTRY = 'docker.io';

export function createDockerHubSource(settings: SourceSettings): Source {
  requireAuthNone(
    settings,
    'docker hub webhooks cannot be authenticated (no signature, no headers); add `auth: none` to accept that anyone who knows the hook url can send image.pushed events',
  );
  const name = settings.name;
  return {
    name,
    type: settings.type,
    authenticate(): void {
      // Docker Hub sends no credential; accepted by `auth: none`.
    },
    map(request: HookRequest): SourceResult {
      return mapDockerHubDelivery(name, request);
    },
  };
}

/** Maps one Docker Hub webhook body; pure; throws only SOURCE_PAYLOAD_INVALID. */
export function mapDockerHubDelivery(sourceName: string, request: HookRequest): SourceResult {
  try {
    return { events: [mapBody(sourceName, readJsonObject(request.body, 'docker hub payload'))] };
  } catch (error) {
    throw asPayloadInvalid(error, 'docker hub payload');
  }
}

function mapBody(sourceName: string, body: JsonObject): ReturnType<typeof mappedEvent> {
  checkCallbackUrl(requireString(body, 'callback_url', 'callback_url', 2048));
  const push = requireObject(body, 'push_data', 'push_data');
  const repo = requireObject(body, 'repository', 'repository');
  const tag = requireString(push, 'tag', 'push_data.tag', 256);
  const pusher = optionalString(push, 'pusher', 'push_data.pusher', 256);
  const pushedAtSeconds = optionalNumber(push, 'pushed_at', 'push_data.pushed_at');
  const repoName = requireString(repo, 'repo_name', 'repository.repo_name', 512);
  const namespace = optionalString(repo, 'namespace', 'repository.namespace', 256);
  const repoShortName = optionalString(repo, 'name', 'repository.name', 256);
  const repoUrl = optionalString(repo, 'repo_url', 'repository.repo_url', 2048);
  const pushedAt = unixSecondsToRfc3339(pushedAtSeconds);
  if (pushedAtSeconds === undefined || pushedAt === undefined) {
    throw payloadInvalid('push_data.pushed_at must be unix seconds');
  }

  const id = `${repoName}:${tag}:${String(pushedAtSeconds)}`;
  const candidate: CloudEvent = {
    specversion: '1.0',
    id,
    source: `${DOCKERHUB_SOURCE_TYPE}/${sourceName}`,
    type: 'image.pushed',
    subject: `${repoName}:${tag}`,
    time: pushedAt,
    datacontenttype: 'application/json',
    data: {
      registry: DOCKERHUB_REGISTRY,
      repository: repoName,
      namespace: namespace ?? null,
      name: repoShortName ?? null,
      tag,
      digest: null,
      media_type: null,
      size: null,
      actor: pusher ?? null,
      pushed_at: pushedAt,
      repo_url: repoUrl ?? null,
      payload: body,
    },
  };
  return mappedEvent(candidate, `${DOCKERHUB_SOURCE_TYPE}:${sourceName}:${id}`, 'docker hub payload');
}

function checkCallbackUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || url.hostname !== DOCKERHUB_CALLBACK_HOST || url.port !== '') {
    throw payloadInvalid(`callback_url must be an https url on ${DOCKERHUB_CALLBACK_HOST}`);
  }
}
