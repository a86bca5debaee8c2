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
