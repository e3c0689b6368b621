import { AppError, isAppError } from '../core/errors.js';

/** A command a user can run from an error message's button. */
export interface ErrorAction {
  title: string;
  command: string;
  args?: unknown[];
}

/**
 * What the user reads when something fails: the agent's (or our) message, which already says
 * what was wrong and what to do, plus buttons for the next step. Never a stack trace: anything
 * that is not an AppError becomes one sentence, and the details go to the log.
 */
export function describeError(e: unknown, doing: string): { message: string; actions: ErrorAction[] } {
  const err = isAppError(e) ? e : new AppError('internal', e instanceof Error ? e.message.split('\n')[0] : String(e));
  const actions: ErrorAction[] = [];
  const log: ErrorAction = { title: 'Show Log', command: 'sleapRtc.showLog' };
  switch (err.code) {
    case 'unavailable':
      if (/agent/i.test(err.message)) actions.push({ title: 'Restart Agent', command: 'sleapRtc.restartAgent' }, { title: 'Start Local Stack', command: 'sleapRtc.startLocalStack' });
      break;
    case 'unauthorized':
    case 'forbidden':
      actions.push({ title: 'Set Room Token', command: 'sleapRtc.setRoomToken' });
      break;
    case 'no_worker':
    case 'unknown_worker':
      actions.push({ title: 'Show Workers', command: 'sleapRtc.workers.focus' }, { title: 'Start Local Stack', command: 'sleapRtc.startLocalStack' });
      break;
    case 'config_invalid':
      actions.push({ title: 'Open Settings', command: 'workbench.action.openSettings', args: ['sleapRtc'] });
      if (/room token/i.test(err.message)) actions.push({ title: 'Set Room Token', command: 'sleapRtc.setRoomToken' });
      if (/server/i.test(err.message)) actions.push({ title: 'Start Local Stack', command: 'sleapRtc.startLocalStack' });
      break;
    default:
      break;
  }
  actions.push(log);
  const text = err.message.length > 600 ? `${err.message.slice(0, 600)}…` : err.message;
  return { message: `SLEAP RTC: ${doing} failed: ${text}`, actions };
}
