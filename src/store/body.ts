import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { ALGORITHM_LIST, algorithmHeader, CHECKSUM_ALGORITHMS, checksumHeader, isValidChecksumValue, parseAlgorithm, type ChecksumAlgorithm } from './checksums.js';
import { AwsChunkedDecoder } from './chunked.js';
import { unlinkQuiet } from './fsutil.js';
import { S3Error } from './S3Error.js';
import type { PayloadMode } from './sigv4.js';
import { hashWriterPool } from './HashWriterPool.js';
import { DigestSet, FileSink, MemorySink } from './sinks.js';

/**
 * How a request body is read and verified, decided from its headers before a byte is read:
 * plain or aws-chunked framing, its exact length, and every digest it must match (signed
 * SHA-256 payload hash, Content-MD5, x-amz-checksum-* in a header or an aws-chunked trailer).
 */
export interface BodyPlan {
  length: number;
  awsChunked: boolean;
  payload: PayloadMode;
  expected: Partial<Record<ChecksumAlgorithm, string>>;
  /** Algorithm announced by x-amz-trailer: its value arrives after the data. */
  trailer?: ChecksumAlgorithm;
  /** Checksums to compute and keep with the object or part. */
  keep: Set<ChecksumAlgorithm>;
  contentMd5?: string;
}

export interface ReceivedBody {
  size: number;
  /** hex */
  md5: string;
  /** base64, for every algorithm in plan.keep */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/** x-amz-checksum-* headers that carry no checksum value. */
const NOT_CHECKSUMS = new Set(['x-amz-checksum-algorithm', 'x-amz-checksum-mode', 'x-amz-checksum-type']);

export function planBody(h: Map<string, string>, payload: PayloadMode, maxSize: number, extraKeep?: ChecksumAlgorithm): BodyPlan {
  const encodings = (h.get('content-encoding') ?? '').split(',').map((s) => s.trim().toLowerCase());
  const streaming = payload.kind === 'streaming-signed' || payload.kind === 'streaming-unsigned-trailer';
  const awsChunked = encodings.includes('aws-chunked') || streaming;
  if (awsChunked && !streaming) throw new S3Error('InvalidRequest', 'an aws-chunked body needs x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]');
  const lengthHeader = awsChunked ? 'x-amz-decoded-content-length' : 'content-length';
  const raw = h.get(lengthHeader);
  if (raw === undefined) throw new S3Error('MissingContentLength', `You must provide the ${awsChunked ? 'x-amz-decoded-content-length' : 'Content-Length'} HTTP header.`);
  if (!/^\d{1,16}$/.test(raw)) throw new S3Error('InvalidArgument', `${lengthHeader} must be a non-negative integer`);
  const length = Number(raw);
  if (length > maxSize) throw new S3Error('EntityTooLarge', `Your proposed upload of ${length} bytes exceeds the maximum allowed size of ${maxSize} bytes.`, { extra: { ProposedSize: raw, MaxSizeAllowed: String(maxSize) } });

  for (const name of h.keys()) {
    if (name.startsWith('x-amz-checksum-') && !NOT_CHECKSUMS.has(name) && !parseAlgorithm(name)) {
      // A client that sends a checksum expects it verified: refuse rather than ignore it.
      throw new S3Error('InvalidRequest', `${name} is not supported by this store; use the x-amz-checksum-* header of ${ALGORITHM_LIST}`);
    }
  }
  const expected: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = h.get(checksumHeader(alg));
    if (v === undefined) continue;
    if (!isValidChecksumValue(alg, v)) throw new S3Error('InvalidRequest', `Value for ${checksumHeader(alg)} header is invalid.`);
    expected[alg] = v;
  }
  if (Object.keys(expected).length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  let trailer: ChecksumAlgorithm | undefined;
  const trailerHeader = h.get('x-amz-trailer');
  if (trailerHeader !== undefined) {
    trailer = parseAlgorithm(trailerHeader);
    if (!trailer) throw new S3Error('InvalidRequest', `x-amz-trailer "${trailerHeader.slice(0, 60)}" is not a supported checksum: name the x-amz-checksum-* header of ${ALGORITHM_LIST}`);
    if (!awsChunked) throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body');
    if (Object.keys(expected).length > 0) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header or trailer. Multiple checksum Types are not allowed.');
  }
  const keep = new Set<ChecksumAlgorithm>(Object.keys(expected) as ChecksumAlgorithm[]);
  if (trailer) keep.add(trailer);
  const sdkAlg = algorithmHeader(h, h.has('x-amz-sdk-checksum-algorithm') ? 'x-amz-sdk-checksum-algorithm' : 'x-amz-checksum-algorithm');
  if (sdkAlg) keep.add(sdkAlg);
  if (extraKeep) keep.add(extraKeep);
  const contentMd5 = h.get('content-md5');
  if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  return { length, awsChunked, payload, expected, trailer, keep, contentMd5 };
}

/** Streams the request body into `sink` (req is piped, never destroyed: the caller answers). */
async function run(req: IncomingMessage, plan: BodyPlan, sink: Writable, signal: AbortSignal): Promise<AwsChunkedDecoder | undefined> {
  const p = plan.payload;
  const decoder = plan.awsChunked
    ? new AwsChunkedDecoder({ decodedLength: plan.length, ...(p.kind === 'streaming-signed' ? { signing: p.signing, trailerSigned: p.trailer } : {}) })
    : undefined;
  const head: Writable = decoder ?? sink;
  const fail = (e: Error): void => void head.destroy(e);
  const cut = (): S3Error => new S3Error('IncompleteBody', 'The request body ended before Content-Length bytes arrived (the client closed the connection).');
  const onClose = (): void => {
    if (!req.complete) fail(cut());
  };
  // node:http reports a body the client cut as an 'error' ("aborted", ECONNRESET) before
  // 'close': that is the client's IncompleteBody, not a failure of the store.
  const onError = (e: Error): void => fail(req.complete ? e : cut());
  const onAbort = (): void => fail(new S3Error('ServiceUnavailable', 'The store is shutting down; retry against its next run.'));
  req.once('close', onClose);
  req.once('error', onError);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal.aborted) throw new S3Error('ServiceUnavailable', 'The store is shutting down; retry against its next run.');
    req.pipe(head);
    if (decoder) await pipeline(decoder, sink);
    else await finished(sink);
    return decoder;
  } finally {
    req.unpipe(head);
    req.off('close', onClose);
    req.off('error', onError);
    signal.removeEventListener('abort', onAbort);
  }
}

function sha256Mismatch(claimed: string, computed: string): S3Error {
  return new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", { extra: { ClientComputedContentSHA256: claimed, S3ComputedContentSHA256: computed } });
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * For a request that has no body at all (no Content-Length, no Transfer-Encoding): a signed
 * payload hash must then be the hash of no bytes. Nothing is read, so nothing else would check it.
 */
export function checkNoBody(payload: PayloadMode): void {
  if (payload.kind === 'sha256' && payload.hex !== EMPTY_SHA256) throw sha256Mismatch(payload.hex, EMPTY_SHA256);
}

function verify(plan: BodyPlan, digests: DigestSet, decoder: AwsChunkedDecoder | undefined): ReceivedBody {
  if (digests.size !== plan.length) throw new S3Error('IncompleteBody', `You did not provide the number of bytes specified: ${digests.size} of ${plan.length}.`);
  const { md5, checksums } = digests.finish();
  // Every digest a check needs was asked for (digestsFor); one that is missing fails the request
  // rather than letting the body through unchecked.
  const digest = (alg: ChecksumAlgorithm): Buffer => {
    const d = checksums.get(alg);
    if (!d) throw new S3Error('InternalError', `The store did not compute the ${alg} of the body, so it cannot be verified; nothing was stored. Send the request again.`);
    return d;
  };
  if (plan.payload.kind === 'sha256') {
    const sha = digest('SHA256').toString('hex');
    if (sha !== plan.payload.hex) throw sha256Mismatch(plan.payload.hex, sha);
  }
  if (plan.contentMd5 !== undefined && Buffer.from(plan.contentMd5, 'base64').toString('hex') !== md5.toString('hex')) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', { extra: { ExpectedDigest: plan.contentMd5, CalculatedDigest: md5.toString('base64') } });
  }
  const expected = { ...plan.expected };
  if (plan.trailer) {
    const v = decoder?.trailers.get(checksumHeader(plan.trailer));
    if (v === undefined) throw new S3Error('InvalidRequest', `the aws-chunked body has no ${checksumHeader(plan.trailer)} trailer, which x-amz-trailer announced`);
    if (!isValidChecksumValue(plan.trailer, v)) throw new S3Error('InvalidRequest', `Value for ${checksumHeader(plan.trailer)} trailing header is invalid.`);
    expected[plan.trailer] = v;
  }
  const out: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of plan.keep) out[alg] = digest(alg).toString('base64');
  for (const [alg, want] of Object.entries(expected) as Array<[ChecksumAlgorithm, string]>) {
    if (out[alg] !== want) throw new S3Error('BadDigest', `The ${alg} you specified did not match the calculated checksum.`);
  }
  return { size: digests.size, md5: md5.toString('hex'), checksums: out };
}

function digestsFor(plan: BodyPlan, offload = false): DigestSet {
  const algs = new Set(plan.keep);
  if (plan.payload.kind === 'sha256') algs.add('SHA256');
  return new DigestSet(algs, offload);
}

/** Bodies from this size on are hashed and written by the HashWriterPool's threads. */
export const OFFLOAD_MIN_BYTES = 1024 * 1024;

/** Receives the body into a new file at `path`; on any failure the file is removed. */
export async function receiveToFile(req: IncomingMessage, plan: BodyPlan, path: string, signal: AbortSignal): Promise<ReceivedBody> {
  const offload = plan.length >= OFFLOAD_MIN_BYTES;
  // Plain bodies reach the sink as node:http's own chunks (one fresh Buffer each), safe to
  // transfer; the aws-chunked decoder hands out slices, which are copied.
  const sink = new FileSink(path, digestsFor(plan, offload), offload ? { offload: hashWriterPool, ownsChunks: !plan.awsChunked } : {});
  try {
    const decoder = await run(req, plan, sink, signal);
    return verify(plan, sink.digests, decoder);
  } catch (e) {
    sink.destroy();
    await unlinkQuiet(path);
    throw e;
  }
}

/** Receives a small body (an XML request) into memory, verified like any other. */
export async function receiveSmall(req: IncomingMessage, plan: BodyPlan, limit: number, signal: AbortSignal): Promise<{ body: Buffer; received: ReceivedBody }> {
  const sink = new MemorySink(digestsFor(plan), limit, () => new S3Error('MaxMessageLengthExceeded', `Your request was too big: at most ${limit} bytes.`));
  const decoder = await run(req, plan, sink, signal);
  return { body: sink.body(), received: verify(plan, sink.digests, decoder) };
}
