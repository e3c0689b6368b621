import { S3Client } from '@aws-sdk/client-s3';

export interface S3Endpoint {
  /** e.g. http://127.0.0.1:9000; omit for AWS itself. */
  endpoint?: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style addressing: needed by the embedded store, RGW and MinIO. */
  forcePathStyle?: boolean;
}

/**
 * The one way the project builds S3 clients. Checksums are sent and validated only when
 * required: a default v3 client signs the CRC32 of an EMPTY body into presigned part URLs and
 * sends aws-chunked trailers that some servers refuse (docs/facts.md §4). Callers that want a
 * checksum on a part add it explicitly.
 */
export function makeS3Client(ep: S3Endpoint, opts: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    region: ep.region,
    endpoint: ep.endpoint,
    forcePathStyle: ep.forcePathStyle ?? ep.endpoint !== undefined,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 3,
  });
}
