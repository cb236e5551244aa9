/**
 * Every error a client can receive, with a stable `code`. The code is what clients match on;
 * the `detail` text may improve. `docs/errors.md` lists every code (a test keeps the two in
 * step in both directions).
 */
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 415 | 422 | 429 | 431 | 500 | 502 | 503 | 504

export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, title: 'Bad Request' },
  body_required: { status: 400, title: 'Bad Request' },
  bad_request: { status: 400, title: 'Bad Request' },
  handle_mismatch: { status: 400, title: 'Bad Request' },
  reserved_handle: { status: 400, title: 'Bad Request' },
  unknown_api_standard: { status: 400, title: 'Bad Request' },
  invalid_share: { status: 400, title: 'Bad Request' },
  endpoint_not_allowed: { status: 400, title: 'Bad Request' },
  invalid_metadata_schema: { status: 400, title: 'Bad Request' },
  invalid_embedding: { status: 400, title: 'Bad Request' },
  invalid_metadata: { status: 400, title: 'Bad Request' },
  invalid_search: { status: 400, title: 'Bad Request' },
  unknown_target: { status: 400, title: 'Bad Request' },
  invalid_job: { status: 400, title: 'Bad Request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  reset_disabled: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not Found' },
  route_not_found: { status: 404, title: 'Not Found' },
  user_not_found: { status: 404, title: 'Not Found' },
  api_key_not_found: { status: 404, title: 'Not Found' },
  api_standard_not_found: { status: 404, title: 'Not Found' },
  definition_not_found: { status: 404, title: 'Not Found' },
  instance_not_found: { status: 404, title: 'Not Found' },
  share_not_found: { status: 404, title: 'Not Found' },
  project_not_found: { status: 404, title: 'Not Found' },
  embedding_not_found: { status: 404, title: 'Not Found' },
  model_not_found: { status: 404, title: 'Not Found' },
  job_not_found: { status: 404, title: 'Not Found' },
  webhook_endpoint_not_found: { status: 404, title: 'Not Found' },
  webhook_delivery_not_found: { status: 404, title: 'Not Found' },
  method_not_allowed: { status: 405, title: 'Method Not Allowed' },
  request_timeout: { status: 408, title: 'Request Timeout' },
  conflict: { status: 409, title: 'Conflict' },
  email_taken: { status: 409, title: 'Conflict' },
  api_standard_in_use: { status: 409, title: 'Conflict' },
  instance_in_use: { status: 409, title: 'Conflict' },
  project_has_embeddings: { status: 409, title: 'Conflict' },
  instance_not_shared: { status: 409, title: 'Conflict' },
  job_state_conflict: { status: 409, title: 'Conflict' },
  body_too_large: { status: 413, title: 'Payload Too Large' },
  unsupported_media_type: { status: 415, title: 'Unsupported Media Type' },
  validation_failed: { status: 422, title: 'Unprocessable Entity' },
  rate_limited: { status: 429, title: 'Too Many Requests' },
  budget_exceeded: { status: 429, title: 'Too Many Requests' },
  headers_too_large: { status: 431, title: 'Request Header Fields Too Large' },
  internal_error: { status: 500, title: 'Internal Server Error' },
  upstream_error: { status: 502, title: 'Bad Gateway' },
  upstream_unavailable: { status: 503, title: 'Service Unavailable' },
  upstream_timeout: { status: 504, title: 'Gateway Timeout' },
  database_unavailable: { status: 503, title: 'Service Unavailable' },
  capability_unavailable: { status: 503, title: 'Service Unavailable' },
  secret_unreadable: { status: 503, title: 'Service Unavailable' },
} as const satisfies Record<string, { status: HttpErrorStatus; title: string }>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

/** One problem with the request, located like the reference API does (`body.email`, `query.limit`). */
export interface ValidationIssue {
  message: string
  location: string
  value?: unknown
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly status: HttpErrorStatus
  readonly title: string
  readonly errors: ValidationIssue[] | undefined
  readonly headers: Record<string, string> | undefined

  constructor(code: ErrorCode, detail: string, options: { cause?: unknown; errors?: ValidationIssue[]; headers?: Record<string, string> } = {}) {
    super(detail, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.status = ERROR_CATALOGUE[code].status
    this.title = ERROR_CATALOGUE[code].title
    this.errors = options.errors
    this.headers = options.headers
  }
}

/** Factories for the errors raised in more than one place; rarer ones call `new AppError`. */
export const errors = {
  unauthorized: () =>
    new AppError('unauthorized', 'Authentication failed. Perhaps a missing or incorrect API key?', {
      headers: { 'www-authenticate': 'Bearer' },
    }),
  forbidden: (detail: string) => new AppError('forbidden', detail),
  userNotFound: (handle: string) => new AppError('user_not_found', `user ${handle} not found`),
  handleMismatch: (kind: string, inPath: string, inBody: string) =>
    new AppError('handle_mismatch', `${kind} handle in URL (${inPath}) does not match ${kind} handle in body (${inBody})`),
  reservedHandle: (handle: string) =>
    new AppError('reserved_handle', `the handle "${handle}" is reserved and cannot be used`),
  validation: (issues: ValidationIssue[]) => new AppError('validation_failed', 'validation failed', { errors: issues }),
  capabilityUnavailable: (detail: string) => new AppError('capability_unavailable', detail),
  databaseUnavailable: (cause?: unknown) =>
    new AppError('database_unavailable', 'the database is not reachable; try again shortly', { cause, headers: { 'retry-after': '5' } }),
  /** No connection came free in time: on the embedded database, usually a vector index build. */
  databaseBusy: (cause?: unknown) =>
    new AppError('database_unavailable', 'the database is busy (for example building a vector index); try again shortly', {
      cause,
      headers: { 'retry-after': '10' },
    }),
}
