/**
 * Which job commands a status allows (the buttons follow it; the agent and worker check again).
 * training: pause, stop early (keep the best model), cancel; paused: resume, stop, cancel;
 * before training starts: cancel only; uploading and final states: none.
 */
import type { JobCommandName } from '../../src/core/schemas/datachannel.js';
import type { JobStatusValue } from '../../src/core/schemas/jobs.js';

export const COMMANDS: readonly JobCommandName[] = ['pause', 'resume', 'stop', 'cancel'];

export function allowedCommands(status: JobStatusValue | undefined): ReadonlySet<JobCommandName> {
  switch (status) {
    case 'training':
      return new Set(['pause', 'stop', 'cancel']);
    case 'paused':
      return new Set(['resume', 'stop', 'cancel']);
    case 'queued':
    case 'accepted':
    case 'downloading':
      return new Set(['cancel']);
    default:
      return new Set();
  }
}
