/**
 * Pause, Resume, Stop Early, Cancel: enabled by the job's status, each click posts a `command`
 * and the worker's answer (`ack`) shows in the status line. A button stays disabled while its
 * command is in flight (no double sends). Cancel discards the run, so it asks for a second click.
 */
import type { JobCommandName } from '../../src/core/schemas/datachannel.js';
import type { JobStatusValue } from '../../src/core/schemas/jobs.js';
import { allowedCommands, COMMANDS } from './commands.js';
import { el } from './dom.js';

const LABEL: Record<JobCommandName, string> = { pause: 'Pause', resume: 'Resume', stop: 'Stop Early', cancel: 'Cancel' };
const TITLE: Record<JobCommandName, string> = {
  pause: 'Pause training after the current batch (resume later)',
  resume: 'Resume a paused training',
  stop: 'Stop now and keep the best model so far',
  cancel: 'Cancel the job; no model is kept',
};
const DOING: Record<JobCommandName, string> = { pause: 'Pausing…', resume: 'Resuming…', stop: 'Stopping…', cancel: 'Cancelling…' };
const CONFIRM_MS = 4000;

export class CommandBar {
  readonly root: HTMLElement;
  readonly statusLine: HTMLElement;
  private readonly buttons = new Map<JobCommandName, HTMLButtonElement>();
  private readonly pending = new Map<string, JobCommandName>();
  private status: JobStatusValue | undefined;
  private confirmTimer?: ReturnType<typeof setTimeout>;
  private armed = false;
  private seq = 0;

  constructor(private readonly send: (requestId: string, command: JobCommandName) => void) {
    this.statusLine = el('p', { class: 'status-line', role: 'status', 'aria-live': 'polite', id: 'status-line' });
    this.root = el('div', { class: 'commands', role: 'group', 'aria-label': 'Job commands' });
    for (const c of COMMANDS) {
      const b = el('button', { type: 'button', id: `cmd-${c}`, 'data-command': c, title: TITLE[c], disabled: true, class: c === 'cancel' ? 'danger' : undefined }, LABEL[c]);
      b.addEventListener('click', () => this.click(c));
      this.buttons.set(c, b);
      this.root.append(b);
    }
  }

  setStatus(status: JobStatusValue | undefined): void {
    this.status = status;
    this.refresh();
  }

  /** The worker's answer to a command sent from here; false when the request id is not ours. */
  ack(requestId: string, ok: boolean, message: string): boolean {
    const c = this.pending.get(requestId);
    if (!c) return false;
    this.pending.delete(requestId);
    this.say(`${LABEL[c]}: ${ok ? 'done' : 'refused'}${message ? ` – ${message}` : ''}`, !ok);
    this.refresh();
    return true;
  }

  say(text: string, error = false): void {
    this.statusLine.textContent = text;
    this.statusLine.classList.toggle('error', error);
  }

  private click(c: JobCommandName): void {
    if (c === 'cancel' && !this.armed) {
      this.armed = true;
      this.buttons.get('cancel')!.textContent = 'Confirm cancel';
      this.say('Click “Confirm cancel” to cancel the job (no model is kept), or wait to keep training.');
      this.confirmTimer = setTimeout(() => this.disarm(), CONFIRM_MS);
      return;
    }
    this.disarm();
    const id = `${Date.now().toString(36)}-${++this.seq}`;
    this.pending.set(id, c);
    this.say(DOING[c]);
    this.refresh();
    this.send(id, c);
  }

  private disarm(): void {
    if (this.confirmTimer !== undefined) clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    this.armed = false;
    this.buttons.get('cancel')!.textContent = LABEL.cancel;
  }

  private refresh(): void {
    const allowed = allowedCommands(this.status);
    const inFlight = new Set(this.pending.values());
    for (const [c, b] of this.buttons) b.disabled = !allowed.has(c) || inFlight.has(c);
    if (!allowed.has('cancel')) this.disarm();
  }
}
