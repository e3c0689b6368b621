import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../core/log.js';
import type { ChecksumAlgorithm, ChecksumType } from './checksums.js';
import { compareKeys, fsyncDir, isErrno, lowerBound, randomId, rmQuiet, unlinkQuiet, writeFileSynced, writeJsonAtomic } from './fsutil.js';
import { KeyLock } from './KeyLock.js';
import { S3Error } from './S3Error.js';
import { SegmentStream, type SegmentSlice } from './SegmentStream.js';
import type { TagSet } from './tagging.js';

/**
 * Buckets and objects on disk, crash-safe:
 *   DIR/tmp/                          bodies and JSON being written (emptied at start)
 *   DIR/buckets/<bucket>/bucket.json  the bucket exists once this file does
 *   DIR/buckets/<bucket>/meta/<sha256(key)>.json   the object's commit point (and its tags)
 *   DIR/buckets/<bucket>/data/<id>    data segments, named by random ids
 * An object's body is one or more segments (a completed multipart upload keeps its parts as
 * segments, a CopyObject hard-links the source's under new ids: nothing is copied). A segment
 * file name is referenced by exactly one meta file; at start every segment no meta references
 * is deleted, so a crash at any point leaves no partial object.
 */

export interface Segment {
  id: string;
  size: number;
}

export interface ObjectMeta {
  key: string;
  size: number;
  /** Without quotes: "<md5 hex>" or "<md5 of part md5s>-<n>". */
  etag: string;
  lastModified: string;
  contentType: string;
  /** content-encoding, content-disposition, cache-control, content-language, expires. */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix. */
  metadata: Record<string, string>;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  checksumType?: ChecksumType;
  /** The object's tags (absent: none); PutObjectTagging rewrites the meta file with new ones. */
  tags?: TagSet;
  segments: Segment[];
  /** Set on objects made by CompleteMultipartUpload. */
  uploadId?: string;
}

/** Fields of a new object; the backend fills in segments and lastModified. */
export type NewObject = Omit<ObjectMeta, 'segments' | 'lastModified'>;

/** A file that becomes a segment: renamed (temp bodies) or hard-linked (multipart parts). */
export interface SegmentSource {
  path: string;
  size: number;
  mode: 'rename' | 'link';
}

interface BucketState {
  name: string;
  created: string;
  objects: Map<string, ObjectMeta>;
  /** Keys in S3 listing order. */
  sorted: string[];
}

export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class DiskBackend {
  readonly tmpDir: string;
  private readonly bucketsDir: string;
  private readonly buckets = new Map<string, BucketState>();
  private readonly pins = new Map<string, number>();
  private readonly doomed = new Set<string>();
  readonly locks = new KeyLock();

  constructor(
    readonly root: string,
    private readonly log: Logger,
  ) {
    this.tmpDir = join(root, 'tmp');
    this.bucketsDir = join(root, 'buckets');
  }

  /** Creates the layout, empties tmp/, loads the index and deletes unreferenced segments. */
  async open(): Promise<void> {
    await rmQuiet(this.tmpDir);
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.bucketsDir, { recursive: true });
    for (const name of await readdir(this.bucketsDir)) await this.loadBucket(name);
  }

  private async loadBucket(name: string): Promise<void> {
    const dir = join(this.bucketsDir, name);
    let info: { name: string; created: string };
    try {
      info = JSON.parse(await readFile(join(dir, 'bucket.json'), 'utf8'));
    } catch {
      // Buckets are created in tmp/ and renamed here complete: this is not a half-created one.
      // Keep whatever objects it holds rather than guess; only an empty folder goes.
      const metas = await readdir(join(dir, 'meta')).catch(() => []);
      if (metas.length === 0) {
        this.log.warn('removing a bucket folder without bucket.json or objects', { bucket: name });
        await rmQuiet(dir);
        return;
      }
      this.log.warn('bucket.json is unreadable; rewriting it', { bucket: name });
      info = { name, created: new Date().toISOString() };
      await mkdir(join(dir, 'data'), { recursive: true });
      await writeJsonAtomic(this.tmpDir, join(dir, 'bucket.json'), info, dir);
    }
    const state: BucketState = { name, created: info.created, objects: new Map(), sorted: [] };
    const referenced = new Set<string>();
    const dataFiles = new Set(await readdir(join(dir, 'data')));
    for (const file of await readdir(join(dir, 'meta'))) {
      const path = join(dir, 'meta', file);
      let meta: ObjectMeta;
      try {
        meta = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        this.log.warn('removing an unreadable object meta file', { bucket: name, file });
        await unlinkQuiet(path);
        continue;
      }
      if (file !== `${keyHash(meta.key)}.json` || !meta.segments.every((s) => dataFiles.has(s.id))) {
        this.log.warn('removing an object whose meta or data is damaged', { bucket: name, file });
        await unlinkQuiet(path);
        continue;
      }
      for (const s of meta.segments) referenced.add(s.id);
      state.objects.set(meta.key, meta);
    }
    let orphans = 0;
    for (const id of dataFiles) {
      if (!referenced.has(id)) {
        orphans++;
        await unlinkQuiet(join(dir, 'data', id));
      }
    }
    if (orphans > 0) this.log.info('removed unreferenced data files', { bucket: name, count: orphans });
    state.sorted = [...state.objects.keys()].sort(compareKeys);
    this.buckets.set(name, state);
  }

  tmpPath(): string {
    return join(this.tmpDir, randomId());
  }

  private bucketDir(bucket: string): string {
    return join(this.bucketsDir, bucket);
  }

  private segmentPath(bucket: string, id: string): string {
    return join(this.bucketDir(bucket), 'data', id);
  }

  private state(bucket: string): BucketState {
    const s = this.buckets.get(bucket);
    if (!s) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { extra: { BucketName: bucket } });
    return s;
  }

  hasBucket(bucket: string): boolean {
    return this.buckets.has(bucket);
  }

  requireBucket(bucket: string): void {
    this.state(bucket);
  }

  listBuckets(): Array<{ name: string; created: string }> {
    return [...this.buckets.values()].map((b) => ({ name: b.name, created: b.created })).sort((a, b) => compareKeys(a.name, b.name));
  }

  /** Creates the bucket; false when it already existed. */
  async createBucket(name: string): Promise<boolean> {
    return this.locks.run(`bucket\0${name}`, async () => {
      if (this.buckets.has(name)) return false;
      const staging = join(this.tmpDir, randomId());
      await mkdir(join(staging, 'meta'), { recursive: true });
      await mkdir(join(staging, 'data'));
      const created = new Date().toISOString();
      await writeFileSynced(join(staging, 'bucket.json'), JSON.stringify({ name, created }));
      await fsyncDir(staging);
      await rename(staging, this.bucketDir(name));
      await fsyncDir(this.bucketsDir);
      this.buckets.set(name, { name, created, objects: new Map(), sorted: [] });
      return true;
    });
  }

  /** Deletes an empty bucket; `busy()` may veto it (open multipart uploads). */
  async deleteBucket(name: string, busy: () => boolean): Promise<void> {
    await this.locks.run(`bucket\0${name}`, async () => {
      const s = this.state(name);
      if (s.objects.size > 0 || busy()) throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { extra: { BucketName: name } });
      this.buckets.delete(name);
      const trash = join(this.tmpDir, randomId());
      await rename(this.bucketDir(name), trash);
      await fsyncDir(this.bucketsDir);
      await rmQuiet(trash);
    });
  }

  head(bucket: string, key: string): ObjectMeta | undefined {
    return this.state(bucket).objects.get(key);
  }

  /** Keys of `bucket` in listing order (the live array: do not modify). */
  sortedKeys(bucket: string): readonly string[] {
    return this.state(bucket).sorted;
  }

  /** Upload ids named by committed objects: uploads completed right before a crash. */
  completedUploadIds(): Set<string> {
    const ids = new Set<string>();
    for (const b of this.buckets.values()) for (const m of b.objects.values()) if (m.uploadId) ids.add(m.uploadId);
    return ids;
  }

  /** Runs `fn` holding the object's commit lock (with `extra` lock names, e.g. an upload's). */
  withKeyLock<T>(bucket: string, key: string, fn: () => Promise<T>, extra: string[] = []): Promise<T> {
    return this.locks.runAll([`obj\0${bucket}\0${key}`, ...extra], fn);
  }

  /**
   * Commits an object; the caller holds its key lock (withKeyLock) and has checked any
   * precondition against head() under it. Sources become segments, then the meta file is
   * written atomically: that rename is the commit point. The replaced object's segments go.
   */
  async commitLocked(bucket: string, obj: NewObject, sources: SegmentSource[]): Promise<ObjectMeta> {
    const s = this.state(bucket);
    const dataDir = join(this.bucketDir(bucket), 'data');
    const segments: Segment[] = [];
    try {
      for (const src of sources) {
        const id = randomId();
        if (src.mode === 'rename') await rename(src.path, join(dataDir, id));
        else await link(src.path, join(dataDir, id));
        segments.push({ id, size: src.size });
      }
      await fsyncDir(dataDir);
      const meta: ObjectMeta = { ...obj, segments, lastModified: new Date().toISOString() };
      const metaDir = join(this.bucketDir(bucket), 'meta');
      await writeJsonAtomic(this.tmpDir, join(metaDir, `${keyHash(obj.key)}.json`), meta, metaDir);
      const old = s.objects.get(obj.key);
      s.objects.set(obj.key, meta);
      if (!old) s.sorted.splice(lowerBound(s.sorted, obj.key), 0, obj.key);
      else this.release(bucket, old);
      return meta;
    } catch (e) {
      for (const seg of segments) await unlinkQuiet(join(dataDir, seg.id));
      if (isErrno(e, 'ENOENT') && !this.buckets.has(bucket)) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { extra: { BucketName: bucket } });
      throw e;
    }
  }

  /**
   * Replaces the object's tags (none: []) by rewriting its meta file atomically under the key
   * lock: a crash leaves the old tags or the new ones. Body, ETag and Last-Modified stay, as on
   * S3; the segments are untouched, so reads in flight go on.
   */
  async setTags(bucket: string, key: string, tags: TagSet): Promise<ObjectMeta> {
    this.state(bucket);
    return this.withKeyLock(bucket, key, async () => {
      const s = this.state(bucket);
      const old = s.objects.get(key);
      if (!old) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { extra: { Key: key } });
      const { tags: _old, ...rest } = old;
      const meta: ObjectMeta = tags.length > 0 ? { ...rest, tags } : rest;
      const metaDir = join(this.bucketDir(bucket), 'meta');
      await writeJsonAtomic(this.tmpDir, join(metaDir, `${keyHash(key)}.json`), meta, metaDir);
      s.objects.set(key, meta);
      return meta;
    });
  }

  /** Deletes the object if it exists (S3 answers 204 either way). */
  async deleteObject(bucket: string, key: string): Promise<void> {
    this.state(bucket);
    await this.withKeyLock(bucket, key, async () => {
      const s = this.state(bucket);
      const old = s.objects.get(key);
      if (!old) return;
      const metaDir = join(this.bucketDir(bucket), 'meta');
      await unlinkQuiet(join(metaDir, `${keyHash(key)}.json`));
      await fsyncDir(metaDir);
      s.objects.delete(key);
      const i = lowerBound(s.sorted, key);
      if (s.sorted[i] === key) s.sorted.splice(i, 1);
      this.release(bucket, old);
    });
  }

  private release(bucket: string, meta: ObjectMeta): void {
    for (const seg of meta.segments) {
      const path = this.segmentPath(bucket, seg.id);
      if (this.pins.has(path)) this.doomed.add(path);
      else void unlinkQuiet(path);
    }
  }

  /**
   * The object's body from byte `start` to `end` inclusive, across its segments. Its segment
   * files are pinned until the stream closes, so an overwrite or delete meanwhile cannot pull
   * them away mid-read.
   */
  readStream(bucket: string, meta: ObjectMeta, start: number, end: number): Readable {
    const paths = meta.segments.map((s) => this.segmentPath(bucket, s.id));
    const unpin = this.pin(bucket, meta);
    const slices: SegmentSlice[] = [];
    let offset = 0;
    for (const [i, seg] of meta.segments.entries()) {
      const segStart = offset;
      offset += seg.size;
      if (seg.size === 0 || offset - 1 < start || segStart > end) continue;
      slices.push({ path: paths[i], from: Math.max(start, segStart) - segStart, to: Math.min(end, offset - 1) - segStart });
    }
    const stream = new SegmentStream(slices);
    stream.once('close', unpin);
    return stream;
  }

  /**
   * Keeps the object's segment files in place until the returned function is called (once): an
   * overwrite or delete meanwhile unlinks them only then. Call it right after head(), with no
   * await in between, so the files are still there.
   */
  pin(bucket: string, meta: ObjectMeta): () => void {
    const paths = meta.segments.map((s) => this.segmentPath(bucket, s.id));
    for (const p of paths) this.pins.set(p, (this.pins.get(p) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const p of paths) {
        const n = (this.pins.get(p) ?? 1) - 1;
        if (n > 0) this.pins.set(p, n);
        else {
          this.pins.delete(p);
          if (this.doomed.delete(p)) void unlinkQuiet(p);
        }
      }
    };
  }

  /**
   * The object's segment files as sources that commitLocked hard-links into another object (a
   * copy without moving a byte; each object then names its own links, and a segment file is
   * still named by exactly one meta file). Pin the object while the commit runs.
   */
  linkSources(bucket: string, meta: ObjectMeta): SegmentSource[] {
    return meta.segments.map((s) => ({ path: this.segmentPath(bucket, s.id), size: s.size, mode: 'link' as const }));
  }
}
