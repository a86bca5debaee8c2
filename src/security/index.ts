export {
  TOKEN_SCOPES,
  bearerToken,
  createApiToken,
  hashToken,
  isTokenScope,
  scopeAllows,
  verifyApiToken,
} from './tokens.ts';
export type { CreatedToken } from './tokens.ts';
export {
  MAX_SECRET_BYTES,
  MAX_SECRET_NAME_LENGTH,
  MIN_SECRET_LENGTH,
  SECRET_NAME_PATTERN,
  checkSecretName,
  checkSecretValue,
  decryptSecret,
  encryptSecret,
} from './secret-box.ts';
export {
  SECRET_KEY_ENV,
  SECRET_KEY_FILE_ENV,
  createSecretKeyFile,
  decodeSecretKey,
  defaultSecretKeyFile,
  loadSecretKey,
  resolveSecretKeyFile,
} from './secret-key.ts';
export { MASK, MIN_MASKED_LENGTH, createMasker } from './masker.ts';
export type { Masker } from './masker.ts';
