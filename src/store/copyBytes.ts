import { pipeline } from 'node:stream/promises';
import { OFFLOAD_MIN_BYTES, type ReceivedBody } from './body.js';
import type { ChecksumAlgorithm } from './checksums.js';
import type { DiskBackend, ObjectMeta } from './DiskBackend.js';
import { unlinkQuiet } from './fsutil.js';
import { hashWriterPool } from './HashWriterPool.js';
import { S3Error } from './S3Error.js';
import { DigestSet, FileSink } from './sinks.js';

/**
 * Streams bytes `start`..`end` (inclusive; end = start - 1 for none) of a stored object into a
 * new file at `path`, hashed on the way exactly as a request body is (MD5 for the ETag, every
 * algorithm of `algs`; large copies on the hash writer threads): what UploadPartCopy stores as
 * its part, and CopyObject when the copy needs a checksum the source lacks. At most a few
 * hundred KiB are in memory whatever the size. On any failure the file is removed.
 *
 * The object's segments are pinned before this function first awaits, so call it right after
 * looking the object up (resolveCopySource).
 */
export async function copyToFile(disk: DiskBackend, bucket: string, meta: ObjectMeta, start: number, end: number, path: string, algs: Iterable<ChecksumAlgorithm>, signal: AbortSignal): Promise<ReceivedBody> {
  const length = Math.max(0, end - start + 1);
  const source = disk.readStream(bucket, meta, start, end);
  const keep = [...new Set(algs)];
  const offload = length >= OFFLOAD_MIN_BYTES;
  // SegmentStream hands out one fresh buffer per read and nothing else holds them: the pool
  // thread may take their memory instead of a copy.
  const sink = new FileSink(path, new DigestSet(keep, offload), offload ? { offload: hashWriterPool, ownsChunks: true } : {});
  try {
    await pipeline(source, sink, { signal });
    if (sink.digests.size !== length) throw new Error(`copied ${sink.digests.size} bytes of ${bucket}/${meta.key}, expected ${length}: its segment files are shorter than its meta says`);
  } catch (e) {
    source.destroy();
    sink.destroy();
    await unlinkQuiet(path);
    if (signal.aborted) throw new S3Error('ServiceUnavailable', 'The store is shutting down; retry against its next run.');
    throw e;
  }
  const { md5, checksums } = sink.digests.finish();
  const out: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of keep) out[alg] = checksums.get(alg)!.toString('base64');
  return { size: length, md5: md5.toString('hex'), checksums: out };
}
