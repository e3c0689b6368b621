import { createHash, createHmac, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './S3Error.js';
import { safeEqualHex } from './sigv4.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

/** What a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body's chunk signatures chain from. */
export interface ChunkSigning {
  signingKey: Uint8Array;
  /** yyyymmddThhmmssZ of the request. */
  longDate: string;
  /** date/region/s3/aws4_request */
  scope: string;
  /** The Signature of the (already verified) Authorization header. */
  seedSignature: string;
}

export interface AwsChunkedOptions {
  /** x-amz-decoded-content-length: the decoded body must have exactly this many bytes. */
  decodedLength: number;
  /** Present for signed streaming payloads: every chunk signature is verified. */
  signing?: ChunkSigning;
  /** The -TRAILER variants end with trailer headers; a signed one with x-amz-trailer-signature. */
  trailerSigned?: boolean;
}

type State = 'size' | 'data' | 'crlf' | 'trailer' | 'done';

function malformed(why: string): S3Error {
  return new S3Error('InvalidRequest', `malformed aws-chunked body: ${why}`);
}

/**
 * Decodes `Content-Encoding: aws-chunked` bodies as they stream:
 * `hex-size[;chunk-signature=sig]\r\n <data> \r\n ... 0[;chunk-signature=sig]\r\n <trailers> \r\n`.
 * Data passes through without copies; signatures are checked at the end of each chunk, so a
 * tampered chunk fails the stream before the next one is accepted. `trailers` holds the
 * trailing headers (lowercase names) once the stream has ended.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  private state: State = 'size';
  private line = '';
  private remaining = 0;
  private crlfSeen = 0;
  private decoded = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private prevSignature: string;
  private trailerBytes = 0;
  private trailerLines: string[] = [];

  constructor(private readonly opts: AwsChunkedOptions) {
    super({ readableHighWaterMark: 1 << 20 });
    this.prevSignature = opts.signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.state !== 'done') return cb(new S3Error('IncompleteBody', 'the aws-chunked body ended before its final chunk and trailer'));
    cb();
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          const slice = buf.subarray(i, i + n);
          this.chunkHash?.update(slice);
          this.push(slice);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'crlf';
          break;
        }
        case 'crlf': {
          const expected = this.crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== expected) throw malformed('chunk data is not followed by CRLF (a chunk is longer than its size)');
          i++;
          if (++this.crlfSeen === 2) {
            this.crlfSeen = 0;
            this.endChunk(false);
            this.state = 'size';
          }
          break;
        }
        case 'size':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl === -1 ? buf.length : nl + 1;
          this.line += buf.toString('latin1', i, end);
          i = end;
          if (this.line.length > MAX_LINE) throw malformed('a chunk header or trailer line is too long');
          if (nl === -1) break;
          if (!this.line.endsWith('\r\n')) throw malformed('lines must end with CRLF');
          const line = this.line.slice(0, -2);
          this.line = '';
          if (this.state === 'size') this.onSizeLine(line);
          else this.onTrailerLine(line);
          break;
        }
        case 'done':
          throw malformed('bytes after the final chunk and trailers');
      }
    }
  }

  private onSizeLine(line: string): void {
    const semi = line.indexOf(';');
    const hex = semi === -1 ? line : line.slice(0, semi);
    if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw malformed(`bad chunk size "${hex.slice(0, 20)}"`);
    const size = parseInt(hex, 16);
    if (this.opts.signing) {
      const m = /;chunk-signature=([0-9a-f]{64})$/.exec(line.slice(semi === -1 ? line.length : semi));
      if (!m) throw new S3Error('SignatureDoesNotMatch', 'a chunk of a signed streaming payload has no chunk-signature');
      this.chunkSignature = m[1];
      this.chunkHash = createHash('sha256');
    }
    this.decoded += size;
    if (this.decoded > this.opts.decodedLength) {
      throw new S3Error('InvalidRequest', `the aws-chunked body holds more than x-amz-decoded-content-length (${this.opts.decodedLength}) bytes`);
    }
    if (size === 0) {
      this.endChunk(true);
      if (this.decoded !== this.opts.decodedLength) {
        throw new S3Error('IncompleteBody', `the aws-chunked body decoded to ${this.decoded} bytes, not x-amz-decoded-content-length ${this.opts.decodedLength}`);
      }
      this.state = 'trailer';
      return;
    }
    this.remaining = size;
    this.state = 'data';
  }

  /** Verifies the signature of the chunk just read (the final, empty one too). */
  private endChunk(final: boolean): void {
    const s = this.opts.signing;
    if (!s) return;
    const dataHash = final ? EMPTY_SHA256 : this.chunkHash!.digest('hex');
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', s.longDate, s.scope, this.prevSignature, EMPTY_SHA256, dataHash].join('\n');
    const want = createHmac('sha256', s.signingKey).update(sts).digest('hex');
    if (!safeEqualHex(want, this.chunkSignature)) {
      throw new S3Error('SignatureDoesNotMatch', 'a chunk signature of the streaming payload does not match: the chunk was changed or signed with another key');
    }
    this.prevSignature = want;
    this.chunkHash = undefined;
  }

  private onTrailerLine(line: string): void {
    this.trailerBytes += line.length + 2;
    if (this.trailerBytes > MAX_TRAILER_BYTES) throw malformed('trailers are too long');
    if (line === '') {
      this.finishTrailers();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`bad trailer line "${line.slice(0, 40)}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.trailers.set(name, value);
      return;
    }
    this.trailerLines.push(`${name}:${value}\n`);
    this.trailers.set(name, value);
  }

  private finishTrailers(): void {
    const s = this.opts.signing;
    if (s && this.opts.trailerSigned) {
      const got = this.trailers.get('x-amz-trailer-signature');
      if (!got) throw new S3Error('SignatureDoesNotMatch', 'the signed trailer has no x-amz-trailer-signature');
      const hashed = createHash('sha256').update(this.trailerLines.join('')).digest('hex');
      const sts = ['AWS4-HMAC-SHA256-TRAILER', s.longDate, s.scope, this.prevSignature, hashed].join('\n');
      const want = createHmac('sha256', s.signingKey).update(sts).digest('hex');
      if (!safeEqualHex(want, got)) throw new S3Error('SignatureDoesNotMatch', 'the trailer signature does not match');
    }
    this.trailers.delete('x-amz-trailer-signature');
    this.state = 'done';
  }
}
