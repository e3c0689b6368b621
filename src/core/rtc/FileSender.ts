import { createHash, randomUUID } from 'node:crypto';
import { AppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { dataChannelMessage, MAX_CHUNK_BYTES } from '../schemas/datachannel.js';
import { chunksOf, type FileData } from './fileChunks.js';
import type { FileAck } from './FileReceiver.js';
import { abortReason, type SendGate } from './SendGate.js';

export interface SentFile {
  transferId: string;
  name: string;
  size: number;
  sha256: string;
  /** From file_begin to the peer's ok. */
  ms: number;
}

export interface FileSenderOptions {
  sendFrame(data: string | Buffer): void;
  gate: SendGate;
  /** Aborted when the link closes. */
  life: AbortSignal;
  ackTimeoutMs: number;
  log: Logger;
}

interface Pending {
  ack?: FileAck;
  settle?: (ack: FileAck) => void;
}

const CODES = new Set<string>(['bad_request', 'too_large', 'checksum_mismatch', 'source_changed', 'aborted', 'not_found', 'timeout', 'internal']);

/**
 * Sends files one after the other (binary frames belong to the last file_begin): file_begin,
 * chunks of <= 64 KiB through the SendGate, file_end with the SHA-256 of what was sent, then
 * waits for the peer's file_ack. A transfer given up half-way (abort, a stream that was shorter
 * or longer than declared, an early ok:false) still ends with file_end so that the receiver
 * frees its buffer and answers; the next file can start as soon as file_end is queued.
 */
export class FileSender {
  private tail: Promise<void> = Promise.resolve();
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly o: FileSenderOptions) {}

  handleAck(ack: FileAck): void {
    const p = this.pending.get(ack.transfer_id);
    if (!p) {
      this.o.log.warn('file_ack for no transfer of ours', { transfer_id: ack.transfer_id });
      return;
    }
    p.ack ??= ack;
    p.settle?.(ack);
  }

  async send(name: string, data: FileData, size: number, kind: string, signal?: AbortSignal): Promise<SentFile> {
    const transferId = randomUUID();
    const begin = parseOut({ type: 'file_begin', transfer_id: transferId, name, size, kind });
    const p: Pending = {};
    const turn = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    let sha256: string;
    const t0 = performance.now();
    try {
      await turn;
      this.check(signal);
      this.pending.set(transferId, p);
      sha256 = await this.stream(begin, transferId, data, size, p, signal);
    } catch (e) {
      // Given up half-way: file_end went out (unless the link closed), so the peer will still
      // answer; drop that answer quietly when it comes.
      if (this.o.life.aborted || p.ack) this.pending.delete(transferId);
      else p.settle = () => this.pending.delete(transferId);
      throw e;
    } finally {
      release();
    }
    try {
      const ack = p.ack ?? (await this.waitAck(p, transferId, signal));
      if (!ack.ok) throw refused(name, ack.error);
      return { transferId, name, size, sha256, ms: performance.now() - t0 };
    } finally {
      this.pending.delete(transferId);
    }
  }

  /** The link closed (`life` is aborted, which fails every waiting transfer): forget them. */
  dispose(): void {
    this.pending.clear();
  }

  private async stream(begin: string, transferId: string, data: FileData, size: number, p: Pending, signal: AbortSignal | undefined): Promise<string> {
    const hash = createHash('sha256');
    let sent = 0;
    let stop: AppError | undefined;
    this.o.sendFrame(begin);
    try {
      for await (const chunk of chunksOf(data, MAX_CHUNK_BYTES)) {
        this.check(signal);
        if (p.ack && !p.ack.ok) break; // refused early; its ack says why
        if (sent + chunk.length > size) {
          stop = new AppError('source_changed', `the source yielded more than the ${size} bytes declared`);
          break;
        }
        await this.o.gate.ready(chunk.length, signal, this.o.life);
        hash.update(chunk);
        this.o.sendFrame(chunk);
        sent += chunk.length;
      }
      if (!stop && !p.ack && sent !== size) stop = new AppError('source_changed', `the source ended after ${sent} of the ${size} bytes declared`);
    } catch (e) {
      stop = e instanceof AppError ? e : new AppError('internal', `reading the file failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const sha256 = hash.digest('hex');
    if (!this.o.life.aborted) {
      try {
        this.o.sendFrame(parseOut({ type: 'file_end', transfer_id: transferId, sha256 }));
      } catch (e) {
        stop ??= e instanceof AppError ? e : new AppError('internal', String(e), { cause: e });
      }
    }
    if (stop) throw stop;
    return sha256;
  }

  private waitAck(p: Pending, transferId: string, signal: AbortSignal | undefined): Promise<FileAck> {
    const life = this.o.life;
    return new Promise<FileAck>((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new AppError('timeout', `no file_ack for transfer ${transferId} within ${this.o.ackTimeoutMs} ms`))), this.o.ackTimeoutMs);
      const onAbort = (): void => done(() => reject(abortReason(signal!)));
      const onClose = (): void => done(() => reject(abortReason(life)));
      const done = (then: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        life.removeEventListener('abort', onClose);
        p.settle = undefined;
        then();
      };
      p.settle = (ack) => done(() => resolve(ack));
      if (signal?.aborted) return onAbort();
      if (life.aborted) return onClose();
      signal?.addEventListener('abort', onAbort, { once: true });
      life.addEventListener('abort', onClose, { once: true });
    });
  }

  private check(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw abortReason(signal);
    if (this.o.life.aborted) throw abortReason(this.o.life);
  }
}

/** Validates an outgoing control frame and serialises it. */
function parseOut(msg: unknown): string {
  const r = dataChannelMessage.safeParse(msg);
  if (!r.success) throw new AppError('bad_request', `invalid DataChannel message: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return JSON.stringify(r.data);
}

/** The peer's `<code>: <message>` refusal as an AppError with that code. */
function refused(name: string, error: string | undefined): AppError {
  const m = /^([a-z_]+): (.*)$/s.exec(error ?? '');
  const code = (m && CODES.has(m[1]) ? m[1] : 'upstream_error') as ErrorCode;
  return new AppError(code, `the peer refused ${name}: ${m ? m[2] : (error ?? 'no reason given')}`, { details: { peer_error: error } });
}
