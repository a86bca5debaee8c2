/**
 * Secrets in a configuration: which values are secret (keys marked `x-secret` in the schema,
 * secret-looking options of sources, passwords inside URLs), a redacted copy for display, the
 * set of secret values for log masking, and the YAML that `junction config print` shows.
 */
import { stringify } from 'yaml';
import { redactUrlPasswords, urlPasswordsIn } from './problems.ts';
import { schemaAt } from './schema.ts';
import type { JunctionConfig } from './types.ts';

export const REDACTED = '***';

/** Option names of sources treated as secrets even though the schema does not list them. */
const SECRET_OPTION = /(secret|token|password|passphrase|credentials?|key)$/i;

/**
 * Whether the value at `segments` (in the effective shape) is a secret as a whole: marked so in the
 * schema, or a source option (at any depth) whose name ends in secret, token, password, key….
 */
function isSecretPath(segments: readonly (string | number)[]): boolean {
  const last = segments[segments.length - 1];
  if (
    segments[0] === 'sources' &&
    segments.length >= 3 &&
    typeof last === 'string' &&
    SECRET_OPTION.test(last)
  ) {
    return true;
  }
  return schemaAt(segments)?.['x-secret'] === true;
}

function redactValue(value: unknown, segments: (string | number)[]): unknown {
  if (typeof value === 'string') return isSecretPath(segments) ? REDACTED : redactUrlPasswords(value);
  if (Array.isArray(value))
    return value.map((item: unknown, index) => redactValue(item, [...segments, index]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        isSecretPath([...segments, key]) && child !== undefined && typeof child !== 'string'
          ? REDACTED
          : redactValue(child, [...segments, key]),
      ]),
    );
  }
  return value;
}

/**
 * A plain, unfrozen copy of `config` with every secret replaced by `***` and every password
 * inside a URL (`nats://user:pass@host`) replaced by `***`.
 */
export function redactConfig(config: JunctionConfig): unknown {
  return redactValue(config, []);
}

/** Every secret value in `config` (whole secrets and URL passwords, also percent-decoded). */
export function collectSecrets(config: JunctionConfig): Set<string> {
  const secrets = new Set<string>();
  const visit = (value: unknown, segments: (string | number)[]): void => {
    if (typeof value === 'string') {
      if (isSecretPath(segments)) {
        if (value !== '') secrets.add(value);
      } else {
        for (const password of urlPasswordsIn(value)) secrets.add(password);
      }
    } else if (Array.isArray(value)) {
      value.forEach((item: unknown, index) => visit(item, [...segments, index]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) visit(child, [...segments, key]);
    }
  };
  visit(config, []);
  return secrets;
}

/**
 * The effective configuration, redacted, as YAML in the shape of `junction.yaml` (sizes in bytes
 * as `bodyLimit`, `requestTimeout` in milliseconds), so the output can be saved and loaded again.
 */
export function printConfigYaml(config: JunctionConfig): string {
  const redacted = redactConfig(config) as Record<string, unknown>;
  const fileKeys: Readonly<Record<string, string>> = {
    bodyLimitBytes: 'bodyLimit',
    requestTimeoutMs: 'requestTimeout',
  };
  const server = Object.fromEntries(
    Object.entries(redacted['server'] as Record<string, unknown>).map(([key, value]) => [
      fileKeys[key] ?? key,
      value,
    ]),
  );
  // Environments: the approval timeout in milliseconds, under its file key.
  const environments = (redacted['environments'] as readonly Record<string, unknown>[] | undefined)?.map(
    ({ protection, ...rest }) => {
      if (protection === undefined) return rest;
      const { timeoutMs, ...others } = protection as Record<string, unknown>;
      return { ...rest, protection: { ...others, timeout: timeoutMs } };
    },
  );
  return stringify(
    { ...redacted, server, ...(environments === undefined ? {} : { environments }) },
    { lineWidth: 0 },
  );
}
