import { AppError, type ErrorCode } from '../core/errors.js';

/** The S3 error codes this store answers with, and their HTTP status. */
const S3_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  ConditionalRequestConflict: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  // Not an AWS code (AWS never fills up); MinIO answers 507 too, as XMinioStorageFull.
  InsufficientStorage: 507,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidTag: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MaxMessageLengthExceeded: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3Code = keyof typeof S3_STATUS;

function appCode(status: number): ErrorCode {
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 412) return 'precondition_failed';
  if (status === 507) return 'disk_full';
  if (status >= 500) return 'internal';
  return 'bad_request';
}

/**
 * An error answered to an S3 client as `<Error><Code>..</Code>..`. It is an AppError (so the
 * project's error handling applies) that also carries the S3 wire code and HTTP status.
 */
export class S3Error extends AppError {
  readonly s3Code: S3Code;
  /** Extra elements for the XML error document (e.g. the part number of an InvalidPart). */
  readonly extra: Record<string, string>;

  constructor(s3Code: S3Code, message: string, opts: { cause?: unknown; extra?: Record<string, string> } = {}) {
    super(appCode(S3_STATUS[s3Code]), message, { cause: opts.cause });
    this.name = 'S3Error';
    this.s3Code = s3Code;
    this.extra = opts.extra ?? {};
  }

  override get status(): number {
    return S3_STATUS[this.s3Code];
  }
}

export function isS3Error(e: unknown, code?: S3Code): e is S3Error {
  return e instanceof S3Error && (code === undefined || e.s3Code === code);
}
