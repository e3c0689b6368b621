import express, { Router, type RequestHandler, type Response } from 'express';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { choosePartSize, partCount } from '../core/parts.js';
import {
  abortUploadBody,
  completeUploadBody,
  requestDownloadBody,
  requestUploadBody,
  uploadRef,
  uploadUrlsBody,
  type CompleteUploadResponse,
  type RequestDownloadResponse,
  type RequestUploadResponse,
  type UploadStatusResponse,
  type UploadUrlsResponse,
} from '../core/schemas/backend.js';
import { bodyOf, parseWith } from '../core/http.js';
import { keyInRoom } from '../core/roomKeys.js';
import { artifactKey, newPrefixId, s3Path } from './keys.js';
import type { RoomAuth } from './RoomAuth.js';
import type { UploadBackend } from './UploadBackend.js';

export interface BackendRoutesOptions {
  auth: RoomAuth;
  backend: UploadBackend;
  defaultPartSize: number;
  log: Logger;
}

/** The presigned-URL backend: /api/request-upload, upload-urls, upload-status, complete-upload, abort-upload, request-download. */
export function backendRoutes(o: BackendRoutesOptions): Router {
  const r = Router();
  const { backend } = o;
  // The room token is checked before the body is read: a caller without a valid one is answered
  // 401 without the server parsing (up to 4 MB of) JSON for it.
  const authed: RequestHandler = (req, res, next) => {
    res.locals.roomId = o.auth.roomOf(req.headers.authorization);
    next();
  };
  const json = express.json({ limit: '4mb' });
  const room = (res: Response): string => res.locals.roomId as string;

  r.post('/api/request-upload', authed, json, async (req, res) => {
    const roomId = room(res);
    const body = parseWith(requestUploadBody, bodyOf(req), 'request-upload body');
    const partSize = choosePartSize(body.file_size, body.part_size ?? o.defaultPartSize);
    const count = partCount(body.file_size, partSize);
    const prefixId = body.prefix_id ?? newPrefixId();
    const key = keyInRoom(roomId, backend.bucket, artifactKey(roomId, body.kind, prefixId, body.relative_path ?? body.file_name));
    const metadata: Record<string, string> = { 'file-size': String(body.file_size), 'file-name': encodeURIComponent(body.file_name) };
    if (body.sha256) metadata.sha256 = body.sha256;
    const uploadId = await backend.createUpload(key, { contentType: body.content_type, metadata });
    const n = Math.min(body.url_count ?? count, count);
    const urls = await backend.partUrls(key, uploadId, Array.from({ length: n }, (_, i) => i + 1), body.part_checksums);
    o.log.info('upload started', { room: roomId, key, parts: count, part_size: partSize });
    const out: RequestUploadResponse = {
      upload_id: uploadId,
      bucket: backend.bucket,
      key,
      s3_path: s3Path(backend.bucket, key),
      prefix_id: prefixId,
      part_size: partSize,
      part_count: count,
      urls,
      expires_at: backend.expiresAt(),
    };
    res.json(out);
  });

  r.post('/api/upload-urls', authed, json, async (req, res) => {
    const roomId = room(res);
    const body = parseWith(uploadUrlsBody, bodyOf(req), 'upload-urls body');
    const key = keyInRoom(roomId, backend.bucket, body.key);
    const out: UploadUrlsResponse = { urls: await backend.partUrls(key, body.upload_id, [...new Set(body.part_numbers)], body.part_checksums), expires_at: backend.expiresAt() };
    res.json(out);
  });

  r.get('/api/upload-status', authed, async (req, res) => {
    const roomId = room(res);
    const q = parseWith(uploadRef, req.query, 'upload-status query (?key=...&upload_id=...)');
    const key = keyInRoom(roomId, backend.bucket, q.key);
    const out: UploadStatusResponse = { key, upload_id: q.upload_id, parts: await backend.listParts(key, q.upload_id) };
    res.json(out);
  });

  r.post('/api/complete-upload', authed, json, async (req, res) => {
    const roomId = room(res);
    const body = parseWith(completeUploadBody, bodyOf(req), 'complete-upload body');
    const key = keyInRoom(roomId, backend.bucket, body.key);
    const numbers = body.parts.map((p) => p.part_number);
    if (numbers.some((n, i) => i > 0 && n <= numbers[i - 1])) {
      throw new AppError('bad_request', 'parts must be listed in ascending part_number order without repeats');
    }
    const done = await backend.complete(key, body.upload_id, body.parts);
    o.log.info('upload completed', { room: roomId, key, size: done.size });
    const out: CompleteUploadResponse = { bucket: backend.bucket, key, s3_path: s3Path(backend.bucket, key), etag: done.etag, size: done.size, ...(done.sha256 ? { sha256: done.sha256 } : {}) };
    res.json(out);
  });

  r.post('/api/abort-upload', authed, json, async (req, res) => {
    const roomId = room(res);
    const body = parseWith(abortUploadBody, bodyOf(req), 'abort-upload body');
    await backend.abort(keyInRoom(roomId, backend.bucket, body.key), body.upload_id);
    res.json({ aborted: true });
  });

  r.post('/api/request-download', authed, json, async (req, res) => {
    const roomId = room(res);
    const body = parseWith(requestDownloadBody, bodyOf(req), 'request-download body');
    const key = keyInRoom(roomId, backend.bucket, body.key);
    const head = await backend.head(key);
    const out: RequestDownloadResponse = {
      url: await backend.downloadUrl(key),
      bucket: backend.bucket,
      key,
      size: head.size,
      etag: head.etag,
      ...(head.sha256 ? { sha256: head.sha256 } : {}),
      expires_at: backend.expiresAt(),
    };
    res.json(out);
  });

  return r;
}

