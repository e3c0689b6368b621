import type { AgentClient } from '../../core/AgentClient.js';
import { jobDetail, type JobDetail } from '../../core/schemas/agent.js';

/** Events per request: a page of a long history is a few hundred KiB of JSON. */
export const PAGE = 5000;

/**
 * A job's history after `afterSeq`, page by page (GET /api/jobs/:id?after_seq=&limit=), each
 * validated; ends when a page comes back short. A 1,000,000-event history is never in memory
 * at once on this side.
 */
export async function* historyPages(client: AgentClient, jobId: string, afterSeq = 0, signal?: AbortSignal): AsyncGenerator<JobDetail> {
  let after = afterSeq;
  for (;;) {
    const page = jobDetail.parse(await client.call('GET', `/api/jobs/${encodeURIComponent(jobId)}?after_seq=${after}&limit=${PAGE}`, undefined, signal));
    yield page;
    if (page.events.length < PAGE) return;
    after = page.events[page.events.length - 1].seq;
  }
}
