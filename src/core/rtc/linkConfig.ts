import { z } from 'zod';
import { AppError } from '../errors.js';
import { MAX_CHUNK_BYTES } from '../schemas/datachannel.js';

/**
 * Configuration of one RTC link. ICE servers come only from here: none by default, because
 * werift's own default asks a public STUN server, which on a machine without internet blocks
 * `setLocalDescription` for its gather timeout (docs/facts.md §3).
 */
export const iceServer = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof iceServer>;

export const rtcLinkConfig = z
  .object({
    iceServers: z.array(iceServer).default([]),
    /** Gather only 127.0.0.1 host candidates (same-machine peers, tests, the one-machine stack). */
    loopbackOnly: z.boolean().default(false),
    heartbeatIntervalMs: z.number().int().min(10).default(1000),
    /** Silence (no frame of any kind) after which the peer is declared dead. */
    deadAfterMs: z.number().int().min(20).default(5000),
    /** Most bytes of file chunks queued in the DataChannel; JSON frames never wait for this. */
    maxQueuedBytes: z.number().int().min(MAX_CHUNK_BYTES).max(64 * 1024 * 1024).default(1024 * 1024),
    /** From start (offerer) or the offer (answerer) to an open channel. */
    connectTimeoutMs: z.number().int().min(100).default(15_000),
    /** From our file_end to the peer's file_ack. */
    fileAckTimeoutMs: z.number().int().min(100).default(30_000),
    label: z.string().min(1).max(64).default('sleap-rtc'),
  })
  .refine((c) => c.deadAfterMs > c.heartbeatIntervalMs, { message: 'deadAfterMs must be longer than heartbeatIntervalMs', path: ['deadAfterMs'] });

export type RtcLinkConfig = z.infer<typeof rtcLinkConfig>;
export type RtcLinkConfigInput = z.input<typeof rtcLinkConfig>;

export function parseLinkConfig(input: RtcLinkConfigInput = {}): RtcLinkConfig {
  const r = rtcLinkConfig.safeParse(input);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new AppError('config_invalid', `invalid RTC link configuration: ${what}`, { cause: r.error });
  }
  return r.data;
}

/** The loopback-only ICE settings measured to work with werift (docs/facts.md §3). */
export const LOOPBACK_ICE = {
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
} as const;

/** The subset of werift's RTCPeerConnection configuration this link sets. */
export interface WeriftIceConfig {
  iceServers: IceServer[];
  iceUseIpv4?: boolean;
  iceUseIpv6?: boolean;
  iceAdditionalHostAddresses?: string[];
  iceInterfaceAddresses?: { udp4?: string; udp6?: string };
}

/** werift peer configuration for a link config. `iceServers` is always explicit (never werift's default). */
export function peerConfig(cfg: Pick<RtcLinkConfig, 'iceServers' | 'loopbackOnly'>): WeriftIceConfig {
  const iceServers = cfg.iceServers.map((s) => ({ ...s }));
  if (!cfg.loopbackOnly) return { iceServers };
  return {
    iceServers,
    iceUseIpv4: LOOPBACK_ICE.iceUseIpv4,
    iceUseIpv6: LOOPBACK_ICE.iceUseIpv6,
    iceAdditionalHostAddresses: [...LOOPBACK_ICE.iceAdditionalHostAddresses],
    iceInterfaceAddresses: { ...LOOPBACK_ICE.iceInterfaceAddresses },
  };
}
