import { z } from 'zod';
import { relativeKeyProblem } from '../roomKeys.js';

/**
 * Bodies of the backend's HTTP API (`sleap-rtc server`, routes under /api). The room token is
 * sent as `Authorization: Bearer <token>`; the room is derived from it, never from the body,
 * and every key the backend signs lies under `rooms/<room_id>/`.
 */

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** S3's largest object: 5 TiB. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits');
/** A file name as it will appear as the last segment of the key. */
export const fileName = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex -- control characters are what this rejects
  .refine((s) => !/[/\\\u0000-\u001f]/.test(s) && s !== '.' && s !== '..', 'a plain file name: no slashes, control characters, "." or ".."');
/** A key relative to the room: segments separated by "/", none empty, "." or "..". */
export const roomRelativeKey = z
  .string()
  .min(1)
  .max(900)
  .refine((s) => relativeKeyProblem(s) === undefined, 'a relative key: "/"-separated segments, none empty, "." or "..", no control characters or backslashes');
export const artifactKind = z.enum(['dataset', 'model']);
export const partNumber = z.number().int().min(1).max(MAX_PARTS);
/** The per-part checksums the backend can sign into a part URL (as the x-amz-checksum-<algorithm> header). */
export const signedChecksumAlgorithm = z.enum(['crc32', 'crc32c']);
/** A part's CRC32 or CRC32C, base64 of its 4 big-endian bytes, as S3 takes it in x-amz-checksum-*. */
export const partChecksumBody = z.object({
  part_number: partNumber,
  algorithm: signedChecksumAlgorithm,
  value: z.string().regex(/^[A-Za-z0-9+/]{6}==$/, 'base64 of 4 bytes (e.g. "AAAAAA==")'),
});
export type PartChecksumBody = z.infer<typeof partChecksumBody>;
export const partUrl = z.object({
  part_number: partNumber,
  url: z.string().url(),
  /** Set when the URL was signed with this part's checksum: send it as x-amz-checksum-<checksum> with the value given (AWS refuses it unsigned). */
  checksum: signedChecksumAlgorithm.optional(),
});
export type PartUrl = z.infer<typeof partUrl>;

export const requestUploadBody = z.object({
  file_name: fileName,
  file_size: z.number().int().min(0).max(MAX_OBJECT_SIZE),
  kind: artifactKind.default('dataset'),
  /** Groups several files under one prefix (a folder dataset, a model's files); the backend makes one when absent. */
  prefix_id: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, ".", "_" or "-" (1-128)')
    .refine((s) => s !== '.' && s !== '..', 'not "." or ".."')
    .optional(),
  /** Sub-path inside the prefix for folder datasets and model folders (e.g. "labels/a.slp"). */
  relative_path: roomRelativeKey.optional(),
  part_size: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).optional(),
  content_type: z.string().max(200).optional(),
  sha256: sha256Hex.optional(),
  /** How many part URLs to sign now (the rest come from /api/upload-urls); default: all. */
  url_count: z.number().int().min(0).max(MAX_PARTS).optional(),
  /** Checksums to sign into those URLs (parts without one get a URL without a checksum). */
  part_checksums: z.array(partChecksumBody).max(MAX_PARTS).optional(),
});
export type RequestUploadBody = z.infer<typeof requestUploadBody>;

export const requestUploadResponse = z.object({
  upload_id: z.string(),
  bucket: z.string(),
  key: z.string(),
  s3_path: z.string(),
  prefix_id: z.string(),
  part_size: z.number().int(),
  part_count: z.number().int(),
  urls: z.array(partUrl),
  expires_at: z.string(),
});
export type RequestUploadResponse = z.infer<typeof requestUploadResponse>;

export const uploadRef = z.object({ key: z.string().min(1).max(1024), upload_id: z.string().min(1).max(1024) });
export type UploadRef = z.infer<typeof uploadRef>;

export const uploadUrlsBody = uploadRef.extend({
  part_numbers: z.array(partNumber).min(1).max(MAX_PARTS),
  /** Checksums to sign into those parts' URLs (see request-upload). */
  part_checksums: z.array(partChecksumBody).max(MAX_PARTS).optional(),
});
export type UploadUrlsBody = z.infer<typeof uploadUrlsBody>;
export const uploadUrlsResponse = z.object({ urls: z.array(partUrl), expires_at: z.string() });
export type UploadUrlsResponse = z.infer<typeof uploadUrlsResponse>;

export const uploadedPart = z.object({
  part_number: partNumber,
  etag: z.string(),
  size: z.number().int().min(0),
  checksum_crc32: z.string().optional(),
  checksum_crc32c: z.string().optional(),
});
export type UploadedPart = z.infer<typeof uploadedPart>;
export const uploadStatusResponse = z.object({ key: z.string(), upload_id: z.string(), parts: z.array(uploadedPart) });
export type UploadStatusResponse = z.infer<typeof uploadStatusResponse>;

export const completeUploadBody = uploadRef.extend({
  parts: z
    .array(z.object({ part_number: partNumber, etag: z.string().min(1), checksum_crc32: z.string().optional(), checksum_crc32c: z.string().optional() }))
    .min(1)
    .max(MAX_PARTS),
});
export type CompleteUploadBody = z.infer<typeof completeUploadBody>;
export const completeUploadResponse = z.object({
  bucket: z.string(),
  key: z.string(),
  s3_path: z.string(),
  etag: z.string(),
  size: z.number().int(),
  sha256: sha256Hex.optional(),
});
export type CompleteUploadResponse = z.infer<typeof completeUploadResponse>;

export const abortUploadBody = uploadRef;
export const abortUploadResponse = z.object({ aborted: z.literal(true) });

export const requestDownloadBody = z.object({
  /** The full key (as returned by complete-upload) or an s3:// path; it must lie in the caller's room. */
  key: z.string().min(1).max(1024),
});
export type RequestDownloadBody = z.infer<typeof requestDownloadBody>;
export const requestDownloadResponse = z.object({
  url: z.string().url(),
  bucket: z.string(),
  key: z.string(),
  size: z.number().int(),
  etag: z.string(),
  sha256: sha256Hex.optional(),
  expires_at: z.string(),
});
export type RequestDownloadResponse = z.infer<typeof requestDownloadResponse>;

/** Every error body of the backend and the agent. */
export const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }) });
export type ErrorBody = z.infer<typeof errorBody>;
