import { FINAL_STATUSES } from '../../core/jobs/JobEventLog.js';
import type { JobCommandName } from '../../core/schemas/datachannel.js';
import type { JobView } from '../../core/schemas/agent.js';
import { baseName } from '../format.js';
import type { Services } from '../Services.js';
import type { JobEntry } from '../state/AgentState.js';
import { pickOne, register } from './command.js';

/** A job id from a tree row (JobEntry), a status-bar click (id) or a picker. */
async function jobArg(s: Services, arg: unknown, what: (e: JobEntry) => boolean, none: string): Promise<string | undefined> {
  if (typeof arg === 'string') return arg;
  if (arg && typeof arg === 'object' && 'job' in arg) return (arg as JobEntry).job.id;
  if (arg && typeof arg === 'object' && 'id' in arg && 'status' in arg) return (arg as JobView).id;
  const e = await pickOne(s.state.jobList().filter(what), (e) => ({ label: baseName(e.job.dataset), description: `${e.job.status} · ${e.job.worker ?? ''}`, detail: e.job.id }), 'Which job?', none);
  return e?.job.id;
}

/** Sends a command to a job; the agent answers after the worker's ack. */
export async function sendJobCommand(s: Services, jobId: string, command: JobCommandName): Promise<{ ok: boolean; job: JobView }> {
  const client = await s.agent.ensure();
  const r = await client.call<{ ok: boolean; job: JobView }>('POST', `/api/jobs/${encodeURIComponent(jobId)}/commands`, { command });
  s.log.info(`job ${jobId}: ${command} acknowledged by the worker`);
  return r;
}

export function registerJobCommands(s: Services): void {
  register(s, 'openMonitor', 'Open Training Monitor', async (arg?: unknown) => {
    const id = await jobArg(s, arg, () => true, 'no job yet: submit one first (SLEAP: Submit Training Job)');
    if (!id) return undefined;
    await s.openMonitor(id);
    return id;
  });
  const live = (e: JobEntry) => !FINAL_STATUSES.has(e.job.status);
  const cmd = (id: string, title: string, command: JobCommandName, filter: (e: JobEntry) => boolean, none: string): void =>
    register(s, id, title, async (arg?: unknown) => {
      const jobId = await jobArg(s, arg, filter, none);
      if (!jobId) return undefined;
      return sendJobCommand(s, jobId, command);
    });
  cmd('pauseJob', 'Pause Job', 'pause', (e) => e.job.status === 'training', 'no job is training');
  cmd('resumeJob', 'Resume Job', 'resume', (e) => e.job.status === 'paused', 'no job is paused');
  cmd('stopJob', 'Stop Job Early', 'stop', (e) => e.job.status === 'training' || e.job.status === 'paused', 'no job is training');
  cmd('cancelJob', 'Cancel Job', 'cancel', live, 'no job is running');
}
