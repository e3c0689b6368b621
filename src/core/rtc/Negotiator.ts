import type { RTCPeerConnection } from 'werift';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { rtcCandidate, sdpText, type RtcCandidate, type RtcSignal } from './signal.js';

const MAX_EARLY_CANDIDATES = 64;

export interface NegotiatorHost {
  log: Logger;
  /** True once the link closed: negotiation steps stop. */
  isClosed(): boolean;
  /** A negotiation step failed: the link closes with 'failed'. */
  fail(err: AppError): void;
}

/**
 * Offer/answer and candidates for one RTCPeerConnection, in the order each side can use them.
 * Remote candidates that come before the remote description wait for it; local candidates, which
 * werift emits while setLocalDescription runs (before the offer or answer exists), wait until the
 * description went out, so a peer never receives a candidate before the SDP it belongs to.
 */
export class Negotiator {
  private readonly early: RtcCandidate[] = [];
  private readonly outgoing: RtcCandidate[] = [];
  private remoteSet = false;
  private localSent = false;
  private readonly unsub: () => void;
  /** Remote candidates that had to wait for the remote description. */
  buffered = 0;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly signal: RtcSignal,
    private readonly host: NegotiatorHost,
  ) {
    const sub = pc.onIceCandidate.subscribe((c) => {
      if (!c?.candidate) return; // end of candidates: werift also puts a=end-of-candidates in the SDP
      if (this.localSent) this.forward(c.toJSON());
      else this.outgoing.push(c.toJSON());
    });
    this.unsub = () => sub.unSubscribe();
  }

  get hasRemoteDescription(): boolean {
    return this.remoteSet;
  }

  async offer(): Promise<void> {
    await this.step('creating the offer', async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await this.signal.sendOffer(this.pc.localDescription!.sdp);
    });
    this.descriptionSent();
  }

  async answer(offerSdp: string): Promise<void> {
    await this.step('applying the offer', () => this.pc.setRemoteDescription({ type: 'offer', sdp: sdpText.parse(offerSdp) }));
    await this.remoteDescriptionSet();
    await this.step('creating the answer', async () => {
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await this.signal.sendAnswer(this.pc.localDescription!.sdp);
    });
    this.descriptionSent();
  }

  async accept(answerSdp: string): Promise<void> {
    await this.step('applying the answer', () => this.pc.setRemoteDescription({ type: 'answer', sdp: sdpText.parse(answerSdp) }));
    await this.remoteDescriptionSet();
  }

  async candidate(candidate: unknown): Promise<void> {
    if (candidate === null || candidate === undefined || this.host.isClosed()) return;
    const r = rtcCandidate.safeParse(candidate);
    if (!r.success) throw new AppError('bad_request', `invalid ICE candidate: ${r.error.issues[0]?.message ?? 'bad shape'}`);
    if (r.data.candidate === '') return;
    if (this.remoteSet) return this.add(r.data);
    if (this.early.length >= MAX_EARLY_CANDIDATES) return this.host.log.warn('too many ICE candidates before the remote description: dropping one');
    this.buffered++;
    this.early.push(r.data);
  }

  dispose(): void {
    this.unsub();
    this.early.length = 0;
    this.outgoing.length = 0;
  }

  private async step(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (this.host.isClosed()) throw new AppError('aborted', `${what}: the RTC link closed`, { cause: e });
      const err = e instanceof AppError ? e : new AppError('bad_request', `${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.host.log.error('negotiation failed', { step: what, error: err.message });
      this.host.fail(err);
      throw err;
    }
    if (this.host.isClosed()) throw new AppError('aborted', `${what}: the RTC link closed`);
  }

  private async remoteDescriptionSet(): Promise<void> {
    this.remoteSet = true;
    for (const c of this.early.splice(0)) await this.add(c);
  }

  private async add(c: RtcCandidate): Promise<void> {
    try {
      await this.pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined, usernameFragment: c.usernameFragment ?? undefined });
    } catch (e) {
      this.host.log.warn('ignored an ICE candidate werift refused', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  private descriptionSent(): void {
    this.localSent = true;
    for (const c of this.outgoing.splice(0)) this.forward(c);
  }

  private forward(c: RtcCandidate): void {
    if (this.host.isClosed()) return;
    Promise.resolve()
      .then(() => this.signal.sendCandidate(c))
      .catch((e: unknown) => this.host.log.warn('signaling refused a candidate', { error: e instanceof Error ? e.message : String(e) }));
  }
}
