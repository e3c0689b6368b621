import type { Readable } from 'node:stream';
import type { PartChecksum } from './checksum.js';
import type { OutageWaiting } from './outage.js';

/**
 * The remote side of one multipart upload. Two implementations: PresignedTransport (the agent:
 * presigned URLs from the backend's HTTP API) and S3Transport (the worker: its own S3
 * credentials). The uploader owns coordination (queue, retries, pause, progress); a transport owns
 * the network calls. Control calls (urlsFor, listParts, complete, abort) retry by themselves;
 * uploadPart does not (the uploader retries it with a fresh stream).
 */
export interface UploadSession {
  bucket: string;
  key: string;
  uploadId: string;
  s3Path: string;
  fileSize: number;
  partSize: number;
  partCount: number;
  /** Room-scoped prefix of the backend (presigned uploads only). */
  prefixId?: string;
}

/** A part S3 holds, as ListParts reports it. */
export interface RemotePart {
  partNumber: number;
  etag: string;
  size: number;
  checksumCrc32?: string;
  checksumCrc32c?: string;
}

/** A finished part, as the uploader reports it (onPartDone) and takes it back on resume. */
export interface DonePart {
  partNumber: number;
  etag: string;
  size: number;
  checksum?: PartChecksum;
}

export interface CompletedUpload {
  bucket: string;
  key: string;
  s3Path: string;
  /** The object's ETag (from HeadObject: RGW answers Complete with an empty one). */
  etag: string;
  size: number;
  /** The SHA-256 stored in the object's metadata, when there is one. */
  sha256?: string;
}

/** What S3 answered to a part PUT. */
export interface PartReceipt {
  etag: string;
  /**
   * The server checked the part against the checksum sent with it: Content-MD5 (every S3 server
   * verifies it), or an x-amz-checksum-* that the answer echoes with our value (AWS, the embedded
   * store). False when no checksum went, or the server kept quiet about it (Ceph RGW 16 ignores
   * x-amz-checksum-*): the uploader then compares the ETag with the part's MD5 itself.
   */
  verified: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** A control-plane call waiting for an endpoint that does not answer says so here (outage.ts). */
  onWaiting?: (w: OutageWaiting | undefined) => void;
}

export interface UploadPartOptions {
  signal: AbortSignal;
  /** Bytes handed to the socket, as they go. */
  onBytes: (n: number) => void;
}

export interface PartTransport {
  readonly session: UploadSession;
  /** 'presigned' | 's3': for logs. */
  readonly kind: string;
  /** PUTs one part; resolves with its ETag. One try: failures are AppErrors for classifyFailure. */
  uploadPart(partNumber: number, body: Readable, size: number, checksum: PartChecksum | undefined, opts: UploadPartOptions): Promise<PartReceipt>;
  /**
   * Makes sure usable URLs exist for these parts (prefetch ahead of the queue); `force` re-signs
   * even cached ones (after S3 said a URL expired). A no-op where requests are signed locally.
   */
  urlsFor(partNumbers: number[], opts: CallOptions & { force?: boolean }): Promise<void>;
  /** Every part S3 holds for this upload (all ListParts pages). 'upload_not_found' when it is gone. */
  listParts(opts?: CallOptions): Promise<RemotePart[]>;
  /** CompleteMultipartUpload with `parts` in ascending order. */
  complete(parts: DonePart[], opts?: CallOptions): Promise<CompletedUpload>;
  /** AbortMultipartUpload: S3 frees the parts. */
  abort(opts?: CallOptions): Promise<void>;
  /** Frees sockets; the transport is unusable afterwards. */
  close(): void;
}
