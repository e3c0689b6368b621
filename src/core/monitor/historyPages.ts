import type { JobEvent } from '../jobs/JobEventLog.js';

/**
 * A job's history as pages, read from the agent by `fetchPage(afterSeq, limit)` (the extension
 * passes `GET /api/jobs/:id?after_seq=N&limit=M` -> `events`) until a page comes back short.
 */
export async function* historyPages(fetchPage: (afterSeq: number, limit: number) => Promise<readonly JobEvent[]>, opts: { pageSize?: number; afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<readonly JobEvent[]> {
  const limit = opts.pageSize ?? 5000;
  let after = opts.afterSeq ?? 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const page = await fetchPage(after, limit);
    opts.signal?.throwIfAborted();
    if (page.length === 0) return;
    yield page;
    const last = page[page.length - 1].seq;
    if (last <= after) return; // no progress: never loop on a misbehaving source
    after = last;
    if (page.length < limit) return;
  }
}
