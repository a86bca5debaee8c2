export { CONTEXT_ATTRIBUTES, dedupeKeyOf, eventJson } from './cloud-event.ts';
export type { CloudEvent, StoredEvent } from './cloud-event.ts';
export {
  BATCH_MEDIA_TYPE,
  STRUCTURED_MEDIA_TYPE,
  decodeHeaderValue,
  encodeHeaderValue,
  parseHttpEvents,
  toJsonFormat,
} from './http-binding.ts';
export type { ContentMode, HttpEventInput, HttpEventLimits, ParsedHttpEvents } from './http-binding.ts';
export { isJsonMediaType, isTextMediaType, parseMediaType, validateCloudEvent } from './validate.ts';
export type { MediaType } from './validate.ts';
export { jsonDepth, parseJsonBytes, scanJson } from './json-limits.ts';
export type { DuplicateKey, JsonScanOptions, JsonScanResult, ParsedJson } from './json-limits.ts';
export { MAX_PROBLEMS, createSchemaRegistry, loadSchemaDir } from './schema-registry.ts';
export type { SchemaProblem, SchemaRegistry } from './schema-registry.ts';
export { uuidv7 } from './ids.ts';
export { EVENT_CATALOG, eventCatalogTypes } from './catalog.ts';
