import { join } from 'node:path';
import { EventFile, type JobEvent } from '../../src/core/jobs/index.js';

/**
 * The events a running `sleap-rtc worker --data DIR` has recorded for a job, after `afterSeq`:
 * its replay file `DIR/jobs/events/<job>.jsonl`. Tests wait on it to know the worker got somewhere
 * (a job under way, events made while no client listened) without a link of their own.
 */
export function workerEvents(workerData: string, jobId: string, afterSeq = 0): JobEvent[] {
  return EventFile.read(join(workerData, 'jobs', 'events', `${jobId}.jsonl`), afterSeq);
}
