import type { Logger } from '../core/log.js';
import type { OutgoingMessage, RtcLink } from '../core/rtc/RtcLink.js';

export interface LinkOutboxOptions {
  /** Sending pauses while the DataChannel holds more than this many bytes. Default 64 KiB. */
  highWaterBytes?: number;
  /** Most messages sent in one turn of the event loop. Default 32. */
  perTurn?: number;
  log: Logger;
}

/**
 * Paces JSON messages onto one link, in order. werift's DataChannel stalls when hundreds of
 * frames are sent in one synchronous burst (a replay after a reconnect, a trainer with very
 * short epochs): messages stopped arriving and acks were lost. The outbox sends a few messages
 * per turn and waits while the channel's buffer is above its high-water mark.
 */
export class LinkOutbox {
  /** Messages, and replays drawn from one at a time as they go out. */
  private readonly queue: Array<OutgoingMessage | Replay> = [];
  private scheduled = false;
  private closed = false;
  private readonly highWater: number;
  private readonly perTurn: number;

  constructor(
    private readonly link: RtcLink,
    private readonly o: LinkOutboxOptions,
  ) {
    this.highWater = o.highWaterBytes ?? 64 * 1024;
    this.perTurn = o.perTurn ?? 32;
    link.onClose(() => this.close());
  }

  get pending(): number {
    return this.queue.length;
  }

  push(msg: OutgoingMessage): void {
    if (this.closed) return;
    this.queue.push(msg);
    this.schedule(0);
  }

  /** Queues a series of messages read only as they are sent (a replay of a long history). */
  pushAll(msgs: Iterable<OutgoingMessage>): void {
    if (this.closed) return;
    this.queue.push(new Replay(msgs[Symbol.iterator]()));
    this.schedule(0);
  }

  /** Ahead of everything queued (a command_ack, which the client awaits). */
  pushFirst(msg: OutgoingMessage): void {
    if (this.closed) return;
    this.queue.unshift(msg);
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.pump();
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  private pump(): void {
    if (this.closed || this.link.state !== 'open') return;
    for (let n = 0; n < this.perTurn && this.queue.length > 0; n++) {
      if (this.link.stats().bufferedAmount > this.highWater) return this.schedule(5);
      const msg = this.next();
      if (msg === undefined) continue;
      try {
        this.link.sendJson(msg);
      } catch (e) {
        this.o.log.warn('could not send to a client link', { type: (msg as { type: string }).type, error: e instanceof Error ? e.message : String(e) });
      }
    }
    if (this.queue.length > 0) this.schedule(1);
  }

  /** The next message to send: the head of the queue, or the next of the replay at its head. */
  private next(): OutgoingMessage | undefined {
    const head = this.queue[0];
    if (!(head instanceof Replay)) return this.queue.shift() as OutgoingMessage | undefined;
    let r: IteratorResult<OutgoingMessage>;
    try {
      r = head.messages.next();
    } catch (e) {
      // The history is gone (its job forgotten meanwhile): the client asks again or is told.
      this.o.log.warn('a replay ended early', { error: e instanceof Error ? e.message : String(e) });
      r = { done: true, value: undefined };
    }
    if (!r.done) return r.value;
    this.queue.shift();
    return undefined;
  }
}

/** A queued series of messages (a replay), told apart from a message by its class. */
class Replay {
  constructor(readonly messages: Iterator<OutgoingMessage>) {}
}
