import { AppError, isAppError, toAppError } from '../../core/errors.js';
import type { BackendClient } from '../../core/transfer/BackendClient.js';
import { failed, passed, type Finding } from './check.js';
import { probeKey } from './s3Check.js';

/** Where the server and the room token came from (for the lines: the token itself is never shown). */
export interface ServerTarget {
  url?: string;
  /** "--server", "SLEAP_RTC_SERVER" or the stack file. */
  urlFrom: string;
  token?: string;
  /** "--room-token", "SLEAP_RTC_ROOM_TOKEN" or a stack secrets file. */
  tokenFrom?: string;
}

const START = 'start it with `sleap-rtc stack` or pass --server <url> (or SLEAP_RTC_SERVER)';
const TOKEN_FIX = 'pass the room token your operator gave you by SLEAP_RTC_ROOM_TOKEN (or --room-token), or --stack-secrets <data>/stack-secrets.json of the stack';

/**
 * The server: it answers /healthz, and the backend accepts the room token. The token is tried on
 * request-download of the doctor's probe object in the room: 401 is a refused token, 403 a token
 * of another room; anything else means it was accepted (a missing probe is 404; S3 trouble is
 * the next check's to report).
 */
export async function checkServer(t: ServerTarget, room: string | undefined, backend: BackendClient | undefined): Promise<Finding> {
  if (!t.url) return failed(`no server given, and no running stack found (${t.urlFrom})`, START);
  try {
    const res = await fetch(`${t.url.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return failed(`${t.url}/healthz answered HTTP ${res.status}: not a sleap-rtc server?`, `check the URL (from ${t.urlFrom}); ${START}`);
  } catch (e) {
    return failed(`${t.url}: ${unreachable(e)}`, START);
  }
  if (!backend || !t.token) return failed(`${t.url} answers, but no room token was given`, TOKEN_FIX);
  try {
    // Without a room any key is outside it (403): the token was still accepted to get that far.
    await backend.requestDownload(probeKey(room ?? 'unknown'));
  } catch (e) {
    if (isAppError(e) && e.code === 'unauthorized') return failed(`${t.url} refused the room token from ${t.tokenFrom}: ${e.message}`, TOKEN_FIX);
    if (room && isAppError(e) && e.code === 'forbidden') return failed(`${t.url} accepted the room token from ${t.tokenFrom}, but it is not the token of room ${room}`, `give room ${room}'s token, or the room this token belongs to with --room <id>`);
    if (!isAppError(e, 'not_found') && !isAppError(e, 'forbidden')) return passed(`${t.url} (room token from ${t.tokenFrom} accepted; the backend said: ${toAppError(e).message})`);
  }
  return passed(`${t.url} (room token from ${t.tokenFrom} accepted)`);
}

/** "connection refused", "timed out after 5 s", or the socket error's code. */
function unreachable(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer within 5 s';
  const code = ((e as { cause?: { code?: string } }).cause ?? {}).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code) return `not reachable (${code})`;
  return e instanceof AppError ? e.message : `not reachable (${e instanceof Error ? e.message : String(e)})`;
}
