import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../core/errors.js';

/** Maps bearer tokens to rooms. Tokens are compared as SHA-256 digests in constant time. */
export class RoomAuth {
  private readonly entries: { room: string; digest: Buffer }[];

  constructor(rooms: Map<string, string>) {
    this.entries = [...rooms].map(([room, token]) => ({ room, digest: digest(token) }));
  }

  /** The room of an `Authorization: Bearer <token>` header; throws unauthorized otherwise. */
  roomOf(authorization: string | undefined): string {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw new AppError('unauthorized', 'missing room token: send "Authorization: Bearer <room token>"');
    const d = digest(m[1]);
    let found: string | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, d)) found = e.room;
    if (!found) throw new AppError('unauthorized', 'unknown room token: check the token your operator gave you for this room');
    return found;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
