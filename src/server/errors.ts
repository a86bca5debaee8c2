/**
 * One mapping from any error to the HTTP answer `{ "error": { "code", "message", "requestId" } }`.
 * Junction's own errors keep their code and status; the framework's (body too large, bad media
 * type, malformed request) are translated to catalogue codes; anything else is `INTERNAL`, logged
 * with its stack and answered without details.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { JunctionError, isJunctionError, type ErrorCode } from '../errors/index.ts';

export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly requestId: string;
    readonly details?: unknown;
  };
}

const FRAMEWORK_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'EVENT_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'EVENT_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'API_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EVENT_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'EVENT_MALFORMED_JSON',
};

export function toJunctionError(error: unknown, bodyLimitBytes: number): JunctionError {
  if (isJunctionError(error)) return error;
  const fastifyError = error as Partial<FastifyError> | undefined;
  const mapped = fastifyError?.code === undefined ? undefined : FRAMEWORK_CODES[fastifyError.code];
  if (mapped === 'EVENT_TOO_LARGE') {
    return new JunctionError(
      mapped,
      `the body is larger than the limit of ${bodyLimitBytes} bytes (server.bodyLimit)`,
    );
  }
  if (mapped !== undefined) return new JunctionError(mapped, (fastifyError?.message ?? mapped).toLowerCase());
  const status = fastifyError?.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new JunctionError('API_BAD_REQUEST', (fastifyError?.message ?? 'bad request').toLowerCase(), {
      httpStatus: status,
    });
  }
  return new JunctionError(
    'INTERNAL',
    'internal error; the server log has the details (look up the request id)',
    { cause: error },
  );
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: JunctionError): FastifyReply {
  if (error.code === 'INTERNAL') {
    request.log.error({ err: error.cause, code: error.code, requestId: request.id }, 'request failed');
  }
  if (error.retryable && (error.httpStatus === 503 || error.httpStatus === 429)) {
    void reply.header(
      'retry-after',
      String(Math.max(1, Math.ceil(Number(error.details?.['retryAfterSeconds'] ?? 1)))),
    );
  }
  const details = error.details === undefined ? {} : { details: error.details };
  const body: ErrorBody = {
    error: { code: error.code, message: error.message, requestId: String(request.id), ...details },
  };
  return reply.code(error.httpStatus).send(body);
}

/**
 * A refusal the router makes before any route runs (a URL that is not valid percent-encoding, a
 * path segment over the length limit), as a Junction error.
 */
export function frameworkError(error: { readonly code?: string | undefined }): JunctionError {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new JunctionError(
      'API_BAD_REQUEST',
      'a path segment is longer than the server accepts; send a real id',
      {
        httpStatus: 414,
      },
    );
  }
  return new JunctionError('API_BAD_REQUEST', 'the URL is not valid: check its percent-encoding (UTF-8)');
}

/**
 * The raw answer to a request Node's HTTP parser refused before the framework saw it (headers
 * too large, malformed request line, a client that took too long), in the usual error body.
 */
export function clientErrorResponse(
  error: { readonly code?: string | undefined },
  requestId: string,
): string {
  const [status, text, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          'the request headers (or the URL) are larger than the server accepts',
        ]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time; send it again']
        : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code: 'API_BAD_REQUEST', message, requestId } });
  return (
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  );
}
