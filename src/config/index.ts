/**
 * Configuration: `junction.yaml` loading and validation, `${VAR}` references, environment and
 * command-line overrides, defaults, redaction of secrets, and the starter files of `junction init`.
 * Other folders import only from here.
 */
export { loadConfig, configFromSource, DEFAULT_CONFIG_FILE } from './load-config.ts';
export type { LoadConfigOptions, ConfigSource } from './load-config.ts';
export {
  configJsonSchema,
  CONFIG_DEFAULTS,
  SOURCE_NAME_PATTERN,
  ENVIRONMENT_NAME_PATTERN,
} from './schema.ts';
export { envOverrideKeys, RESERVED_ENV_NAMES } from './env-overrides.ts';
export { formatConfigProblems, configProblemsOf } from './problems.ts';
export { redactConfig, printConfigYaml, REDACTED } from './redact.ts';
export { parseByteSize, parseDuration } from './units.ts';
export { initProject, STARTER_CONFIG, STARTER_PIPELINE } from './init-project.ts';
export type { InitProjectOptions, InitProjectResult } from './init-project.ts';
export type {
  JunctionConfig,
  SourceConfig,
  NotifierConfig,
  EnvironmentConfig,
  EnvironmentProtection,
  FreezeWindowConfig,
  LoadedConfig,
  ConfigFile,
  ConfigOverrides,
  ConfigProblem,
  LogLevel,
  LogFormat,
  StoreDurability,
} from './types.ts';
