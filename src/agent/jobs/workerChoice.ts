import { AppError } from '../../core/errors.js';
import type { PeerFilters } from '../../core/schemas/signaling.js';
import type { PeerInfo } from '../../core/signaling/SignalingClient.js';

/** discover_peers of the room's signaling server (its errors already say what to do). */
export type DiscoverPeers = (filters: PeerFilters) => Promise<PeerInfo[]>;

/**
 * The worker a job goes to: the one named (it must be in the room now), else the first free one
 * that trains with `trainer` (the server filters: sleap-rtc's discover_peers, the trainer's tag,
 * `status` available), else the fitting worker with the shortest queue that has room (its
 * metadata's `queue_length` and `max_queue`; the job waits there). When there is none, the error
 * says whether the fitting workers are all busy with full queues or there is none.
 */
export async function pickWorker(discover: DiscoverPeers, room: string | undefined, named: string | undefined, trainer: string): Promise<string> {
  const workers = await discover({ role: 'worker' });
  if (named) {
    const w = workers.find((p) => p.peer_id === named);
    if (!w) throw new AppError('unknown_worker', `no worker "${named}" in room ${room}; the workers there now: ${workers.map((p) => p.peer_id).join(', ') || 'none'}`);
    return w.peer_id;
  }
  const free = await discover({ role: 'worker', tags: [trainer], properties: { status: { $eq: 'available' } } });
  if (free.length > 0) return free[0].peer_id;
  const fit = workers.filter((p) => (p.metadata.tags ?? []).includes(trainer));
  const queue = (p: PeerInfo): { length: number; room: number } => {
    const { queue_length: length, max_queue: max } = p.metadata.properties;
    return typeof length === 'number' && typeof max === 'number' ? { length, room: max - length } : { length: 0, room: 0 };
  };
  const shortest = fit.filter((p) => queue(p).room > 0).sort((a, b) => queue(a).length - queue(b).length)[0];
  if (shortest) return shortest.peer_id;
  if (fit.length > 0) throw new AppError('no_worker', `every worker that trains with ${trainer} is busy and its queue full (${fit.map((p) => p.peer_id).join(', ')}); try again later or name one with "worker"`);
  throw new AppError('no_worker', `no worker in room ${room} trains with ${trainer}; start one (sleap-rtc worker --trainer ${trainer}) or choose another trainer`);
}
