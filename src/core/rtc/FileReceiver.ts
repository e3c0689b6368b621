import { createHash, type Hash } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import type { DataChannelMessage } from '../schemas/datachannel.js';
import { chooseTransport } from '../transport.js';

type Msg<T extends DataChannelMessage['type']> = Extract<DataChannelMessage, { type: T }>;
export type FileBegin = Msg<'file_begin'>;
export type FileEnd = Msg<'file_end'>;
export type FileAck = Msg<'file_ack'>;

export interface IncomingFile {
  transferId: string;
  name: string;
  kind: string;
  size: number;
}
export interface ReceivedFile extends IncomingFile {
  sha256: string;
  bytes: Buffer;
}
export interface FileFailure extends IncomingFile {
  code: ErrorCode;
  error: string;
}

export interface FileReceiverOptions {
  /** Sends a file_ack to the peer. */
  reply(ack: FileAck): void;
  onBegin?(file: IncomingFile): void;
  onFile(file: ReceivedFile): void;
  onError(failure: FileFailure): void;
  /** Reports frames that belong to no transfer (dropped). */
  onStray?(what: string): void;
}

interface Transfer extends IncomingFile {
  chunks: Buffer[];
  received: number;
  hash: Hash;
  /** Set once this transfer failed and was acked ok:false; its remaining frames are dropped. */
  failed?: boolean;
}

/**
 * Receives one file at a time (binary frames belong to the last file_begin): checks the size
 * against what `chooseTransport` allows over WebRTC, hashes as chunks arrive, and at file_end
 * checks size and SHA-256 and answers file_ack ok/error. A transfer that cannot succeed (refused,
 * overflowing) is answered at once so that the sender stops early. Ack errors read
 * `<code>: <message>` so the sender can raise the same AppError code.
 */
export class FileReceiver {
  private current: Transfer | undefined;

  constructor(private readonly o: FileReceiverOptions) {}

  get active(): IncomingFile | undefined {
    return this.current && !this.current.failed ? pick(this.current) : undefined;
  }

  begin(msg: FileBegin): void {
    if (this.current && !this.current.failed) this.fail(this.current, 'aborted', `superseded by file_begin ${msg.transfer_id} before its file_end`);
    const t: Transfer = { transferId: msg.transfer_id, name: msg.name, kind: msg.kind, size: msg.size, chunks: [], received: 0, hash: createHash('sha256') };
    this.current = t;
    const transport = chooseTransport(msg.size, msg.kind, false);
    if (transport !== 'WebRTC') {
      this.fail(t, 'too_large', `${msg.name} (${msg.size} bytes, kind "${msg.kind}") goes by ${transport}, not over the DataChannel`);
      return;
    }
    this.o.onBegin?.(pick(t));
  }

  chunk(buf: Buffer): void {
    const t = this.current;
    if (!t) {
      this.o.onStray?.(`binary frame of ${buf.length} bytes outside any transfer`);
      return;
    }
    if (t.failed) return;
    if (t.received + buf.length > t.size) {
      this.fail(t, 'checksum_mismatch', `more bytes than announced: ${t.received + buf.length} > ${t.size}`);
      return;
    }
    t.received += buf.length;
    t.hash.update(buf);
    t.chunks.push(buf);
  }

  end(msg: FileEnd): void {
    const t = this.current;
    if (!t || t.transferId !== msg.transfer_id) {
      this.o.onStray?.(`file_end for unknown transfer ${msg.transfer_id}`);
      this.o.reply({ type: 'file_ack', transfer_id: msg.transfer_id, ok: false, error: 'not_found: no such transfer in progress' });
      return;
    }
    this.current = undefined;
    if (t.failed) return; // already answered
    if (t.received !== t.size) return this.fail(t, 'checksum_mismatch', `incomplete: got ${t.received} of ${t.size} bytes`);
    const sha256 = t.hash.digest('hex');
    if (sha256 !== msg.sha256) return this.fail(t, 'checksum_mismatch', `SHA-256 mismatch: got ${sha256}, sender says ${msg.sha256}`);
    const bytes = Buffer.concat(t.chunks, t.received);
    t.chunks = [];
    this.o.reply({ type: 'file_ack', transfer_id: t.transferId, ok: true });
    this.o.onFile({ ...pick(t), sha256, bytes });
  }

  /** The link closed: a transfer in progress fails (nothing is sent). */
  dispose(reason: string): void {
    const t = this.current;
    this.current = undefined;
    if (t && !t.failed) {
      t.failed = true;
      t.chunks = [];
      this.o.onError({ ...pick(t), code: 'aborted', error: `link ${reason} during the transfer` });
    }
  }

  private fail(t: Transfer, code: ErrorCode, error: string): void {
    t.failed = true;
    t.chunks = [];
    this.o.reply({ type: 'file_ack', transfer_id: t.transferId, ok: false, error: `${code}: ${error}` });
    this.o.onError({ ...pick(t), code, error });
  }
}

function pick(t: IncomingFile): IncomingFile {
  return { transferId: t.transferId, name: t.name, kind: t.kind, size: t.size };
}
