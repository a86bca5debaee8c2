export { ERROR_CODES } from './codes.ts';
export type { ErrorCode, ErrorCodeEntry } from './codes.ts';
export { JunctionError, isJunctionError, errorMessage } from './junction-error.ts';
export type { JunctionErrorOptions } from './junction-error.ts';
