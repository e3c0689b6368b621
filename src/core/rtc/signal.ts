import { z } from 'zod';

/**
 * What the link needs from signaling, and nothing more: it hands out its offer/answer and ICE
 * candidates through these callbacks and takes the peer's through RtcLink.handleOffer /
 * handleAnswer / handleCandidate. How they travel (the signaling WebSocket's offer/answer/
 * candidate messages, a test relay) is the caller's business.
 */
export interface RtcSignal {
  sendOffer(sdp: string): void | Promise<void>;
  sendAnswer(sdp: string): void | Promise<void>;
  sendCandidate(candidate: RtcCandidate): void | Promise<void>;
}

/** An ICE candidate as browsers, aiortc and werift serialise it (RTCIceCandidateInit). */
export const rtcCandidate = z.object({
  candidate: z.string().max(4096),
  sdpMid: z.string().max(64).nullish(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullish(),
  usernameFragment: z.string().max(256).nullish(),
});
export type RtcCandidate = z.infer<typeof rtcCandidate>;

export const sdpText = z.string().min(1).max(200_000);
