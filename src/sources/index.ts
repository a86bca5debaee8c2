/**
 * The sources' public face: `createSources` turns the `sources:` entries of junction.yaml into
 * receivers by name, through one registry of factories by type. Adding a source type is one line
 * in `SOURCE_FACTORIES`.
 */
import { JunctionError } from '../errors/index.ts';
import { alertmanagerSource } from './alertmanager.ts';
import { createBitbucketSource } from './bitbucket.ts';
import { createDockerHubSource } from './dockerhub.ts';
import { createEventBridgeSource } from './eventbridge.ts';
import { createEventGridSource } from './eventgrid.ts';
import { createGitSource } from './git.ts';
import { createGiteaSource } from './gitea.ts';
import { createGitHubSource } from './github.ts';
import { createGitLabSource } from './gitlab.ts';
import { grafanaSource } from './grafana.ts';
import { createHarborSource } from './harbor.ts';
import { createPubSubSource } from './pubsub.ts';
import { createQuaySource } from './quay.ts';
import { createRegistrySource } from './registry.ts';
import { securityReportSource } from './security-report.ts';
import type { Source, SourceFactory, SourceSettings } from './source.ts';
import { createWebhookSource } from './webhook.ts';

export type {
  HookRequest,
  MappedEvent,
  Source,
  SourceFactory,
  SourceResult,
  SourceSettings,
} from './source.ts';
export { GITHUB_MAX_COMMITS, GITHUB_SOURCE_TYPE, createGitHubSource, mapGitHubDelivery } from './github.ts';
export { hmacDigest, safeEqualStrings, verifyHexHmac, verifyPrefixedHmac } from './hmac.ts';
export type { HmacAlgorithm } from './hmac.ts';

// ---- Source registry: one line per type. ---------------------------------------------------
export const SOURCE_FACTORIES: Readonly<Record<string, SourceFactory>> = {
  github: createGitHubSource,
  git: createGitSource,
  gitlab: createGitLabSource,
  gitea: createGiteaSource,
  bitbucket: createBitbucketSource,
  registry: createRegistrySource,
  dockerhub: createDockerHubSource,
  harbor: createHarborSource,
  quay: createQuaySource,
  alertmanager: alertmanagerSource,
  grafana: grafanaSource,
  'security-report': securityReportSource,
  eventbridge: createEventBridgeSource,
  pubsub: createPubSubSource,
  eventgrid: createEventGridSource,
  webhook: createWebhookSource,
};
// ---- end of the source registry. -----------------------------------------------------------

/** The supported `type:` values, sorted. */
export function sourceTypes(): string[] {
  return Object.keys(SOURCE_FACTORIES).sort();
}

/**
 * Names of the entries that accept deliveries without authentication (`auth: none`), in
 * configuration order, for a start-up warning.
 */
export function unauthenticatedSources(entries: readonly SourceSettings[]): string[] {
  return entries.filter((entry) => entry.auth === 'none').map((entry) => entry.name);
}

/** Builds every configured source; throws `CONFIG_INVALID` for an unknown type or bad settings. */
export function createSources(entries: readonly SourceSettings[]): Map<string, Source> {
  const sources = new Map<string, Source>();
  for (const [index, entry] of entries.entries()) {
    const factory = Object.hasOwn(SOURCE_FACTORIES, entry.type) ? SOURCE_FACTORIES[entry.type] : undefined;
    if (factory === undefined) {
      throw new JunctionError(
        'CONFIG_INVALID',
        `source '${entry.name}' has unknown type '${entry.type}' (supported: ${sourceTypes().join(', ')})`,
        { details: { path: `sources[${index}].type` } },
      );
    }
    if (sources.has(entry.name)) {
      throw new JunctionError('CONFIG_INVALID', `source name '${entry.name}' is used twice`, {
        details: { path: `sources[${index}].name` },
      });
    }
    sources.set(entry.name, factory(entry));
  }
  return sources;
}

/**
 * The largest delivery a provider sends, where it documents one above the server's usual limit:
 * GitHub caps webhook payloads at 25 MB; scanner reports (SARIF of a large monorepo) run to tens
 * of megabytes. Other sources default to `server.bodyLimit`.
 */
const PROVIDER_BODY_LIMITS: Readonly<Record<string, number>> = {
  github: 25 * 1000 * 1000,
  'security-report': 32 * 1024 * 1024,
};

/** The body limit of a source's receiver: its `bodyLimit`, else its provider's cap, else the server's. */
export function hookBodyLimit(settings: SourceSettings, serverLimitBytes: number): number {
  const configured = settings['bodyLimitBytes'];
  if (typeof configured === 'number') return configured;
  const provider = Object.hasOwn(PROVIDER_BODY_LIMITS, settings.type)
    ? PROVIDER_BODY_LIMITS[settings.type]
    : undefined;
  return provider === undefined ? serverLimitBytes : Math.max(provider, serverLimitBytes);
}

export { eventGridValidationCode } from './eventgrid.ts';
