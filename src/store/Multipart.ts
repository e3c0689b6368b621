import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import { MAX_PART_SIZE, MIN_PART_SIZE } from '../core/schemas/backend.js';
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';
import type { DiskBackend, NewObject, ObjectMeta } from './DiskBackend.js';
import { compareKeys, fsyncDir, randomId, rmQuiet, unlinkQuiet, writeFileSynced, writeJsonAtomic } from './fsutil.js';
import { S3Error } from './S3Error.js';
import { objectChecksum, type CompleteChecksumRequest, type UploadChecksum } from './multipartChecksum.js';
import type { TagSet } from './tagging.js';
import type { CompletePart } from './xml.js';
import { bareEtag } from '../core/etag.js';

/**
 * Multipart uploads on disk:
 *   DIR/uploads/<uploadId>/upload.json       bucket, key, content type, metadata, tags, checksum (the upload exists once it does)
 *   DIR/uploads/<uploadId>/<n>-<id>.bin      a part's bytes
 *   DIR/uploads/<uploadId>/part-<n>.json     the part's commit point (size, ETag, checksums, file)
 * Completing hard-links the part files into the bucket as the object's segments (no copy),
 * commits the object, then deletes the upload folder. A crash before the object's commit
 * leaves the upload intact; after it, the upload folder is removed at the next start.
 */

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  contentType: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** With checksumAlgorithm; absent in uploads made before FULL_OBJECT existed here: COMPOSITE. */
  checksumType?: ChecksumType;
  /** x-amz-tagging of CreateMultipartUpload, given to the object at completion. */
  tags?: TagSet;
}

/** The algorithm and type an upload was created with, if any. */
export function uploadChecksumOf(info: UploadInfo): UploadChecksum | undefined {
  return info.checksumAlgorithm ? { algorithm: info.checksumAlgorithm, type: info.checksumType ?? 'COMPOSITE' } : undefined;
}

export interface PartInfo {
  partNumber: number;
  file: string;
  size: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  lastModified: string;
}

interface Upload {
  info: UploadInfo;
  parts: Map<number, PartInfo>;
}

export class Multipart {
  private readonly dir: string;
  private readonly uploads = new Map<string, Upload>();

  constructor(
    private readonly disk: DiskBackend,
    private readonly log: Logger,
  ) {
    this.dir = join(disk.root, 'uploads');
  }

  /** Loads open uploads; drops half-created ones, completed ones and unreferenced part files. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const completed = this.disk.completedUploadIds();
    for (const id of await readdir(this.dir)) {
      const udir = join(this.dir, id);
      let info: UploadInfo;
      try {
        info = JSON.parse(await readFile(join(udir, 'upload.json'), 'utf8'));
      } catch {
        await rmQuiet(udir);
        continue;
      }
      if (completed.has(id) || !this.disk.hasBucket(info.bucket)) {
        await rmQuiet(udir);
        continue;
      }
      const files = await readdir(udir);
      const fileSet = new Set(files);
      const parts = new Map<number, PartInfo>();
      for (const f of files.filter((f) => /^part-\d+\.json$/.test(f))) {
        try {
          const p = JSON.parse(await readFile(join(udir, f), 'utf8')) as PartInfo;
          if (fileSet.has(p.file)) parts.set(p.partNumber, p);
          else await unlinkQuiet(join(udir, f));
        } catch {
          await unlinkQuiet(join(udir, f));
        }
      }
      const referenced = new Set([...parts.values()].map((p) => p.file));
      for (const f of files) if (f.endsWith('.bin') && !referenced.has(f)) await unlinkQuiet(join(udir, f));
      this.uploads.set(id, { info, parts });
    }
    if (this.uploads.size > 0) this.log.info('open multipart uploads', { count: this.uploads.size });
  }

  private get(uploadId: string, bucket: string, key: string): Upload {
    const u = this.uploads.get(uploadId);
    if (!u || u.info.bucket !== bucket || u.info.key !== key) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { extra: { UploadId: uploadId.slice(0, 200) } });
    }
    return u;
  }

  private lockName(uploadId: string): string {
    return `upload\0${uploadId}`;
  }

  /** Throws NoSuchUpload unless the upload is open for this bucket and key. */
  require(uploadId: string, bucket: string, key: string): UploadInfo {
    return this.get(uploadId, bucket, key).info;
  }

  hasUploads(bucket: string): boolean {
    for (const u of this.uploads.values()) if (u.info.bucket === bucket) return true;
    return false;
  }

  async create(fields: Omit<UploadInfo, 'uploadId' | 'initiated'>): Promise<UploadInfo> {
    const info: UploadInfo = { ...fields, uploadId: randomId(), initiated: new Date().toISOString() };
    const staging = join(this.disk.tmpDir, randomId());
    await mkdir(staging);
    await writeFileSynced(join(staging, 'upload.json'), JSON.stringify(info));
    await fsyncDir(staging);
    await rename(staging, join(this.dir, info.uploadId));
    await fsyncDir(this.dir);
    this.uploads.set(info.uploadId, { info, parts: new Map() });
    return info;
  }

  /** Commits a received part body (a temp file, consumed here) as part `n`, replacing any earlier one. */
  async putPart(uploadId: string, bucket: string, key: string, n: number, body: { path: string; size: number; md5: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }): Promise<PartInfo> {
    return this.disk.locks.run(this.lockName(uploadId), async () => {
      const u = this.get(uploadId, bucket, key);
      const udir = join(this.dir, uploadId);
      const part: PartInfo = { partNumber: n, file: `${n}-${randomId()}.bin`, size: body.size, etag: body.md5, checksums: body.checksums, lastModified: new Date().toISOString() };
      await rename(body.path, join(udir, part.file));
      try {
        // Syncs udir after its rename: that also makes the part file's entry durable.
        await writeJsonAtomic(this.disk.tmpDir, join(udir, `part-${n}.json`), part, udir);
      } catch (e) {
        await unlinkQuiet(join(udir, part.file));
        throw e;
      }
      const old = u.parts.get(n);
      u.parts.set(n, part);
      if (old) await unlinkQuiet(join(udir, old.file));
      return part;
    });
  }

  listParts(uploadId: string, bucket: string, key: string, marker: number, max: number): { info: UploadInfo; parts: PartInfo[]; truncated: boolean } {
    const u = this.get(uploadId, bucket, key);
    const all = [...u.parts.values()].filter((p) => p.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
    return { info: u.info, parts: all.slice(0, max), truncated: all.length > max };
  }

  /** Open uploads of a bucket, ordered by key then initiation, after the markers. */
  listUploads(bucket: string, opts: { prefix: string; keyMarker?: string; uploadIdMarker?: string; max: number }): { uploads: UploadInfo[]; truncated: boolean } {
    const all = [...this.uploads.values()]
      .map((u) => u.info)
      .filter((i) => i.bucket === bucket && i.key.startsWith(opts.prefix))
      .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.localeCompare(b.initiated) || a.uploadId.localeCompare(b.uploadId));
    let start = 0;
    if (opts.keyMarker !== undefined) {
      const km = opts.keyMarker;
      const idm = opts.uploadIdMarker;
      start = all.findIndex((i) => {
        const c = compareKeys(i.key, km);
        return c > 0 || (c === 0 && idm !== undefined && idm !== '' && i.uploadId > idm);
      });
      if (start === -1) start = all.length;
    }
    const rest = all.slice(start);
    return { uploads: rest.slice(0, opts.max), truncated: rest.length > opts.max };
  }

  async abort(uploadId: string, bucket: string, key: string): Promise<void> {
    await this.disk.locks.run(this.lockName(uploadId), async () => {
      this.get(uploadId, bucket, key);
      this.uploads.delete(uploadId);
      await rmQuiet(join(this.dir, uploadId));
    });
  }

  /**
   * Validates the part list and the object checksum the request claims, and commits the object
   * under the key lock, after `precondition` (If-Match / If-None-Match) has seen the current
   * object. The upload is gone afterwards.
   */
  async complete(uploadId: string, bucket: string, key: string, listed: CompletePart[], checksum: CompleteChecksumRequest, precondition: (current: ObjectMeta | undefined) => void): Promise<ObjectMeta> {
    this.get(uploadId, bucket, key);
    return this.disk.withKeyLock(
      bucket,
      key,
      async () => {
        const u = this.get(uploadId, bucket, key);
        const parts = this.validate(u, listed);
        precondition(this.disk.head(bucket, key));
        const md5 = createHash('md5');
        for (const p of parts) md5.update(Buffer.from(p.etag, 'hex'));
        const { checksums, checksumType } = objectChecksum(uploadChecksumOf(u.info), parts, checksum);
        const obj: NewObject = {
          key,
          size: parts.reduce((n, p) => n + p.size, 0),
          etag: `${md5.digest('hex')}-${parts.length}`,
          contentType: u.info.contentType,
          headers: u.info.headers,
          metadata: u.info.metadata,
          checksums,
          ...(checksumType ? { checksumType } : {}),
          ...(u.info.tags?.length ? { tags: u.info.tags } : {}),
          uploadId,
        };
        const udir = join(this.dir, uploadId);
        const meta = await this.disk.commitLocked(bucket, obj, parts.map((p) => ({ path: join(udir, p.file), size: p.size, mode: 'link' as const })));
        this.uploads.delete(uploadId);
        await rmQuiet(udir);
        return meta;
      },
      [this.lockName(uploadId)],
    );
  }

  private validate(u: Upload, listed: CompletePart[]): PartInfo[] {
    const parts: PartInfo[] = [];
    let prev = 0;
    for (const l of listed) {
      if (l.partNumber <= prev) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.');
      prev = l.partNumber;
    }
    for (const [i, l] of listed.entries()) {
      const p = u.parts.get(l.partNumber);
      const invalid = (why: string): S3Error =>
        new S3Error('InvalidPart', `One or more of the specified parts could not be found or its entity tag did not match: part ${l.partNumber} ${why}.`, { extra: { PartNumber: String(l.partNumber), ETag: l.etag } });
      if (!p) throw invalid('was never uploaded');
      if (bareEtag(l.etag) !== p.etag) throw invalid(`has ETag "${p.etag}", not ${l.etag}`);
      for (const [alg, v] of Object.entries(l.checksums)) if (p.checksums[alg as ChecksumAlgorithm] !== v) throw invalid(`has another ${alg} checksum`);
      if (i < listed.length - 1 && p.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size: part ${l.partNumber} has ${p.size} bytes, every part but the last needs at least ${MIN_PART_SIZE}.`, {
          extra: { PartNumber: String(l.partNumber), ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART_SIZE) },
        });
      }
      if (p.size > MAX_PART_SIZE) throw invalid('is larger than 5 GiB');
      parts.push(p);
    }
    return parts;
  }
}
