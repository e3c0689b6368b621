import { basename } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { choosePartSize } from '../parts.js';
import { MIN_PART_SIZE, type RequestUploadBody } from '../schemas/backend.js';
import type { BackendClient } from './BackendClient.js';
import { digestFile, type FileDigest, type PartChecksumAlgorithm } from './checksum.js';
import { MultipartUploader, type MultipartUploaderOptions, type UploadResult } from './MultipartUploader.js';
import { FilePartSource } from './PartSource.js';
import type { DonePart, PartTransport, UploadSession } from './PartTransport.js';
import { PresignedTransport } from './PresignedTransport.js';
import { throwIfAborted } from './retry.js';

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/** Through the backend's presigned URLs (the agent). */
export interface PresignedUploadTarget {
  kind: 'presigned';
  backend: BackendClient;
  /** Default: the file's base name. */
  fileName?: string;
  artifact?: RequestUploadBody['kind'];
  prefixId?: string;
  relativePath?: string;
  contentType?: string;
}

/** With the caller's own S3 credentials (the worker). */
export interface S3UploadTarget {
  kind: 's3';
  s3: S3Client;
  bucket: string;
  key: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PrepareUploadOptions extends Pick<MultipartUploaderOptions, 'concurrency' | 'stallTimeoutMs' | 'retry' | 'onPartDone' | 'onProgress' | 'onStateChange' | 'onReconciled' | 'progressIntervalMs' | 'random' | 'outageLimitMs' | 'onWaiting'> {
  path: string;
  target: PresignedUploadTarget | S3UploadTarget;
  /** Requested part size; raised to at least 5 MiB and until the file fits in 10,000 parts. Default 8 MiB. */
  partSize?: number;
  /**
   * Per-part checksum. Default 'crc32' (x-amz-checksum-crc32, signed into presigned URLs by the
   * backend; where the server ignores it, the part's ETag is checked against its MD5). See checksum.ts.
   */
  partChecksum?: PartChecksumAlgorithm;
  /** Continue an upload a ledger knows: its session, the file's SHA-256 and the parts recorded done.
   *  The file is hashed again first and must still have that SHA-256 (else source_changed). */
  resume?: { session: UploadSession; sha256: string; doneParts: DonePart[] };
  /** Called once the multipart upload exists, before any part is sent: persist the session here. */
  onSession?: (s: { session: UploadSession; sha256: string }) => void | Promise<void>;
  /** Progress of the first pass (SHA-256 and part checksums) over the file. */
  onHashBytes?: (n: number) => void;
  log?: Logger;
}

export interface PreparedUpload {
  uploader: MultipartUploader;
  transport: PartTransport;
  session: UploadSession;
  sha256: string;
  /** Frees the transport's sockets (after the upload settled). */
  close(): void;
}

/**
 * Everything before the first part: the file's SHA-256 and part checksums in one pass, the
 * multipart upload (with the SHA-256 in its metadata), and an uploader ready to start. Or, with
 * `resume`, a transport for the known session and an uploader that reconciles with ListParts.
 */
export async function prepareUpload(o: PrepareUploadOptions, opts: { signal?: AbortSignal } = {}): Promise<PreparedUpload> {
  const { signal } = opts;
  const source = await FilePartSource.open(o.path);
  throwIfAborted(signal);
  const algorithm = o.partChecksum ?? 'crc32';
  const concurrency = o.concurrency ?? 'auto';
  let transport: PartTransport;
  let sha256: string;
  let digest: FileDigest | undefined;
  if (o.resume) {
    // The file must be the one the interrupted upload was sending: parts on S3 are of that file.
    // Hashing it again also yields each part's MD5, which reconcile compares with S3's ETags.
    digest = await digestFile(o.path, { partSize: o.resume.session.partSize, algorithm, signal, onBytes: o.onHashBytes });
    if (digest.sha256 !== o.resume.sha256 || digest.size !== o.resume.session.fileSize) {
      throw new AppError('source_changed', `${o.path} is no longer the file whose upload was interrupted (SHA-256 or size differ); start a new upload`);
    }
    sha256 = o.resume.sha256;
    transport =
      o.target.kind === 'presigned'
        ? PresignedTransport.resume({ backend: o.target.backend, concurrency, partChecksums: digest.partChecksums, log: o.log }, o.resume.session)
        : (await s3Transport()).resume({ s3: o.target.s3, bucket: o.target.bucket, concurrency }, o.resume.session);
  } else {
    const partSize = choosePartSize(source.size, o.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
    digest = await digestFile(o.path, { partSize, algorithm, signal, onBytes: o.onHashBytes });
    if (digest.size !== source.size) throw new AppError('source_changed', `${o.path} changed while it was being hashed; try again when it is no longer written to`);
    sha256 = digest.sha256;
    throwIfAborted(signal);
    const t = o.target;
    transport =
      t.kind === 'presigned'
        ? await PresignedTransport.start(
            { backend: t.backend, concurrency, partChecksums: digest.partChecksums, log: o.log },
            {
              file_name: t.fileName ?? basename(o.path),
              file_size: source.size,
              part_size: partSize,
              sha256,
              kind: t.artifact,
              ...(t.prefixId ? { prefix_id: t.prefixId } : {}),
              ...(t.relativePath ? { relative_path: t.relativePath } : {}),
              ...(t.contentType ? { content_type: t.contentType } : {}),
            },
            { signal, onWaiting: o.onWaiting },
          )
        : await (await s3Transport()).start({ s3: t.s3, bucket: t.bucket, concurrency }, { key: t.key, fileSize: source.size, partSize, sha256, contentType: t.contentType, metadata: t.metadata }, { signal });
  }
  try {
    await o.onSession?.({ session: transport.session, sha256 });
    throwIfAborted(signal);
    const uploader = new MultipartUploader({
      source,
      transport,
      sha256,
      digest,
      partChecksum: algorithm,
      concurrency,
      stallTimeoutMs: o.stallTimeoutMs,
      retry: o.retry,
      doneParts: o.resume?.doneParts,
      onPartDone: o.onPartDone,
      onReconciled: o.onReconciled,
      onProgress: o.onProgress,
      onStateChange: o.onStateChange,
      progressIntervalMs: o.progressIntervalMs,
      outageLimitMs: o.outageLimitMs,
      onWaiting: o.onWaiting,
      log: o.log,
      random: o.random,
    });
    return { uploader, transport, session: transport.session, sha256, close: () => transport.close() };
  } catch (e) {
    transport.close();
    throw e;
  }
}

/**
 * S3Transport loads the AWS SDK (~35 MiB of RSS): only uploads with direct credentials (the
 * worker) pay for it, not the agent's presigned ones (the CLI bundle splits on this import).
 */
async function s3Transport(): Promise<typeof import('./S3Transport.js').S3Transport> {
  return (await import('./S3Transport.js')).S3Transport;
}

/** prepareUpload, then the whole upload; the transport is closed at the end whatever happens. */
export async function uploadFile(o: PrepareUploadOptions, opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
  const p = await prepareUpload(o, opts);
  try {
    return await p.uploader.start(opts);
  } finally {
    p.close();
  }
}
