import { randomBytes } from 'node:crypto';
import { toAppError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { SignalingClient, type PeerInfo } from '../../core/signaling/SignalingClient.js';
import { failed, passed, type Finding } from './check.js';

export interface SignalingProbe {
  finding: Finding;
  /** Registered, for the WebRTC check (the caller closes it). */
  client?: SignalingClient;
  /** The workers visible in the room, the free ones first. */
  workers: PeerInfo[];
}

/**
 * Registers in the room as a client, as the agent does, but under a peer id of its own
 * (`doctor-<random>`): the agent's id would take over the agent's registration. Then asks for
 * the room's workers.
 */
export async function checkSignaling(o: { server: string; room: string; token: string; log: Logger; timeoutMs?: number }): Promise<SignalingProbe> {
  const peerId = `doctor-${randomBytes(4).toString('hex')}`;
  const client = new SignalingClient({ url: o.server, peerId, role: 'client', roomId: o.room, token: o.token, metadata: { tags: ['doctor'] }, log: o.log, requestTimeoutMs: 5000, connectTimeoutMs: 5000 });
  const timeoutMs = o.timeoutMs ?? 10_000;
  try {
    // connect() retries until registered; a refusal (bad token, wrong room) ends it at once.
    await client.connect({ signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    await client.close();
    const why = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError') ? `not registered within ${timeoutMs / 1000} s` : toAppError(e).message;
    return { finding: failed(`${o.server} room ${o.room}: ${why}`, 'check the room id (--room) and its token; the server must be reachable by WebSocket at /ws (a proxy in front of it must pass upgrades)'), workers: [] };
  }
  let workers: PeerInfo[];
  try {
    workers = await client.discover({ role: 'worker' });
  } catch (e) {
    await client.close();
    return { finding: failed(`registered in room ${o.room}, but discover_peers failed: ${toAppError(e).message}`, 'run `sleap-rtc doctor` again; the server may be overloaded'), workers: [] };
  }
  if (workers.length === 0) {
    return {
      finding: failed(`registered in room ${o.room} as ${peerId}, but no worker is visible`, `start one with \`sleap-rtc worker --server ${o.server} --room ${o.room}\` (token by SLEAP_RTC_ROOM_TOKEN), or \`sleap-rtc stack\``),
      client,
      workers,
    };
  }
  const status = (p: PeerInfo): string => String(p.metadata.properties?.status ?? 'unknown');
  workers.sort((a, b) => Number(status(b) === 'available') - Number(status(a) === 'available'));
  const list = workers.map((w) => `${w.peer_id} (${status(w)})`).join(', ');
  return { finding: passed(`registered in room ${o.room}; ${workers.length} worker${workers.length === 1 ? '' : 's'} visible: ${list}`), client, workers };
}
