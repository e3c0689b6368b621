import { Readable } from 'node:stream';
import { roomPrefix } from '../../core/roomKeys.js';
import type { BackendClient } from '../../core/transfer/BackendClient.js';
import { createAgents, openGet, readAnswer, s3Failure } from '../../core/transfer/httpClient.js';
import { PresignedTransport } from '../../core/transfer/PresignedTransport.js';
import { toAppError } from '../../core/errors.js';
import { failed, passed, type Finding } from './check.js';

/**
 * The doctor's probe object, inside the room's own prefix and named as what it is. The backend
 * has no delete route (clients never delete), so the object stays; its key is fixed, so every run
 * overwrites the same small object instead of adding one.
 */
export const PROBE_PREFIX = 'sleap-rtc-doctor';
export const PROBE_FILE = 'probe.txt';
export const probeKey = (room: string): string => `${roomPrefix(room)}datasets/${PROBE_PREFIX}/${PROBE_FILE}`;

/**
 * S3 through the backend's presigned URLs, as uploads and downloads use them: a one-part
 * multipart upload of a small object (request-upload, PUT, complete-upload), then a presigned
 * GET of it, compared byte for byte.
 */
export async function checkS3(backend: BackendClient, signal: AbortSignal): Promise<Finding> {
  const body = Buffer.from(`sleap-rtc doctor probe ${new Date().toISOString()}\n`);
  const agents = createAgents(1);
  let endpoint: string | undefined;
  const fix = (): string =>
    `check that the S3 endpoint the server signs URLs for (${endpoint ?? 'its --s3-endpoint, or --s3-public-endpoint'}) runs and that this machine reaches it; clients that reach S3 by another address need the server's --s3-public-endpoint`;
  let transport: PresignedTransport | undefined;
  try {
    try {
      transport = await PresignedTransport.start({ backend, concurrency: 1 }, { file_name: PROBE_FILE, file_size: body.length, prefix_id: PROBE_PREFIX, content_type: 'text/plain' }, { signal });
      const part = await transport.uploadPart(1, Readable.from([body]), body.length, undefined, { signal, onBytes: () => undefined });
      await transport.complete([{ partNumber: 1, etag: part.etag, size: body.length }], { signal });
    } catch (e) {
      // Leave no unfinished multipart upload behind.
      await transport?.abort().catch(() => undefined);
      return failed(`presigned PUT of ${transport?.session.key ?? PROBE_FILE}: ${toAppError(e).message}`, fix());
    }
    const key = transport.session.key;
    try {
      const dl = await backend.requestDownload(key, { signal });
      endpoint = new URL(dl.url).origin;
      const res = await openGet(dl.url, { agents, signal, what: `GET ${key}` });
      const a = await readAnswer(res);
      if (a.status !== 200) throw s3Failure(a, `GET ${key}`, dl.url, 'not_found');
      if (a.text !== body.toString('utf8')) return failed(`presigned GET of ${key} gave other bytes than were PUT`, 'the S3 endpoint does not keep what it is sent: check its logs and disk');
    } catch (e) {
      return failed(`presigned PUT of ${key} worked, the GET did not: ${toAppError(e).message}`, fix());
    }
    return passed(`presigned PUT and GET of ${key} via ${endpoint} (${body.length} B; kept, the backend has no delete)`);
  } finally {
    transport?.close();
    agents.destroy();
  }
}
