import type { AgentClient } from '../../core/AgentClient.js';
import type { JobEvent } from '../../core/jobs/index.js';
import { historyPages } from '../../core/monitor/historyPages.js';
import { jobDetail, type JobView } from '../../core/schemas/agent.js';

/** Events per request: a page of a long history is a few hundred KiB of JSON. */
export const PAGE = 5000;

const jobPath = (jobId: string, after: number, limit: number) => `/api/jobs/${encodeURIComponent(jobId)}?after_seq=${after}&limit=${limit}`;

/**
 * A job's events after `afterSeq` from the agent, page by page (core's pager over
 * GET /api/jobs/:id?after_seq=&limit=), each validated: a 1,000,000-event history is never all
 * in memory on this side.
 */
export function jobEventPages(client: AgentClient, jobId: string, afterSeq = 0, signal?: AbortSignal): AsyncGenerator<readonly JobEvent[]> {
  return historyPages(async (after, limit) => jobDetail.parse(await client.call('GET', jobPath(jobId, after, limit), undefined, signal)).events, { afterSeq, pageSize: PAGE, signal });
}

/** The job's view with its config (the events left out). */
export async function jobWithConfig(client: AgentClient, jobId: string): Promise<JobView> {
  const { events: _events, ...job } = jobDetail.parse(await client.call('GET', jobPath(jobId, 0, 1)));
  return job;
}
