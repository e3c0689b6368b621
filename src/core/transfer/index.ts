/**
 * The S3 transfer engine: resumable, parallel multipart uploads (presigned URLs from the backend,
 * or direct S3 credentials) and resumable, verified parallel downloads.
 *
 * This index re-exports S3Transport and S3RangeSource, so importing it loads the AWS SDK
 * (~35 MiB of RSS). The presigned path (uploadFile.js, BackendClient.js, RangeSource.js,
 * Downloader.js) does not: import those modules directly where memory matters (the agent).
 */
export { BackendClient, type BackendClientOptions } from './BackendClient.js';
export { checksumOfRange, crc32c, createPartHasher, digestFile, partChecksumHeaders, serverVerified, sha256File, type FileDigest, type PartChecksum, type PartChecksumAlgorithm } from './checksum.js';
export { Downloader, downloadFile, type DownloadOptions, type DownloadResult } from './Downloader.js';
export { MultipartUploader, type MultipartUploaderOptions, type UploaderState, type UploadResult } from './MultipartUploader.js';
export { PartQueue, type PartQueueOptions, type QueueItem, type RunContext } from './PartQueue.js';
export { FilePartSource, type PartSource } from './PartSource.js';
export { Md5Worker } from './Md5Worker.js';
export type { CompletedUpload, DonePart, PartReceipt, PartTransport, RemotePart, UploadSession } from './PartTransport.js';
export { PresignedTransport, type PresignedTransportOptions, type StartUploadRequest } from './PresignedTransport.js';
export { ProgressMeter, type TransferProgress } from './progress.js';
export { PresignedRangeSource, type ObjectInfo, type RangeSource } from './RangeSource.js';
export { S3RangeSource } from './S3RangeSource.js';
export { classifyFailure, DEFAULT_RETRY, isPaused, PAUSED, retryDelay, sleep, withRetry, type FailureKind, type RetryPolicy } from './retry.js';
export { S3Transport, type S3TransportOptions, type StartS3Upload } from './S3Transport.js';
export { DEFAULT_PART_SIZE, prepareUpload, uploadFile, type PrepareUploadOptions, type PreparedUpload, type PresignedUploadTarget, type S3UploadTarget } from './uploadFile.js';
