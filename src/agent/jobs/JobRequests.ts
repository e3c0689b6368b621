import { AppError } from '../../core/errors.js';

/** A worker's job_response (or the agent's own answer when the user cancels first). */
export interface JobAnswer {
  accepted: boolean;
  reason?: string;
  /** Accepted into the worker's queue at this place. */
  position?: number;
}

/**
 * The job_requests waiting for their job_response over signaling, matched by job id (one
 * request per job at a time). Each ends by its answer, by `cancel`, by `drop`, or after the
 * timeout with an error that says what to check.
 */
export class JobRequests {
  private readonly waiting = new Map<string, { timer: NodeJS.Timeout; settle: (a: JobAnswer | Error) => void }>();

  /** @param timeoutMs how long a worker has to answer a job_request. */
  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * The answer to job `jobId`'s request to `worker`. Call before sending the request, so that an
   * answer that comes at once is not missed; `drop` it when the request could not be sent.
   */
  expect(jobId: string, worker: string): Promise<JobAnswer> {
    this.waiting.get(jobId)?.settle(new AppError('conflict', `job ${jobId}: a newer request to a worker replaced this one`));
    return new Promise((resolve, reject) => {
      const settle = (a: JobAnswer | Error): void => {
        if (this.waiting.get(jobId)?.settle !== settle) return;
        clearTimeout(timer);
        this.waiting.delete(jobId);
        if (a instanceof Error) reject(a);
        else resolve(a);
      };
      const timer = setTimeout(() => settle(new AppError('timeout', `worker ${worker} did not answer the job request within ${this.timeoutMs / 1000} s; is it running? (GET /api/workers)`)), this.timeoutMs);
      this.waiting.set(jobId, { timer, settle });
    });
  }

  /** A job_response came (the caller checked it is from the job's worker); false when none waits. */
  answer(jobId: string, a: JobAnswer): boolean {
    const w = this.waiting.get(jobId);
    w?.settle(a);
    return w !== undefined;
  }

  /** The user cancelled before the worker answered: the request ends as refused with `reason`. */
  cancel(jobId: string, reason: string): boolean {
    return this.answer(jobId, { accepted: false, reason });
  }

  /** Forgets a request without settling it (it was never sent). */
  drop(jobId: string): void {
    const w = this.waiting.get(jobId);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(jobId);
  }

  /** Ends every wait with `err` (the agent stops). */
  rejectAll(err: Error): void {
    for (const w of [...this.waiting.values()]) w.settle(err);
  }
}
