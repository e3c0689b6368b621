import { AppError } from '../errors.js';
import { MAX_CHUNK_BYTES } from '../schemas/datachannel.js';
import { chooseTransport, type DataType } from '../transport.js';

/** What `sendFile` accepts: bytes in memory, or a stream (a Node Readable is an AsyncIterable). */
export type FileData = Uint8Array | AsyncIterable<Uint8Array | string>;

/**
 * Refuses, before anything is read or sent, a file that `chooseTransport` does not route over
 * WebRTC (e.g. a model of 10,000,001 bytes goes by S3).
 */
export function assertWebRtcSized(name: string, size: number, kind: DataType): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new AppError('bad_request', `size of ${name} must be a whole number of bytes, got ${size}`);
  const transport = chooseTransport(size, kind, false);
  if (transport !== 'WebRTC') {
    throw new AppError('too_large', `${name} (${size} bytes, kind "${kind}") is too large for the DataChannel: chooseTransport sends it by ${transport}; upload it to S3 instead`, {
      details: { name, size, kind, transport },
    });
  }
}

/** The size of `data`: its length in memory, else the `size` the caller declared for a stream. */
export function fileSize(name: string, data: FileData, declared: number | undefined): number {
  if (data instanceof Uint8Array) {
    if (declared !== undefined && declared !== data.byteLength) throw new AppError('bad_request', `${name}: declared size ${declared} differs from the ${data.byteLength} bytes given`);
    return data.byteLength;
  }
  if (declared === undefined) throw new AppError('bad_request', `${name}: a stream needs its size declared ({ size }) before sending, for file_begin and the transport check`);
  return declared;
}

/** Splits `data` into Buffers of at most `max` bytes (copy-free for bytes in memory). */
export async function* chunksOf(data: FileData, max: number = MAX_CHUNK_BYTES): AsyncGenerator<Buffer> {
  if (data instanceof Uint8Array) {
    const all = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let off = 0; off < all.length; off += max) yield all.subarray(off, Math.min(all.length, off + max));
    return;
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of data) {
    let buf = typeof piece === 'string' ? Buffer.from(piece) : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (buf.length > 0) {
      const take = Math.min(buf.length, max - pendingBytes);
      pending.push(buf.subarray(0, take));
      pendingBytes += take;
      buf = buf.subarray(take);
      if (pendingBytes === max) {
        yield pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
}
