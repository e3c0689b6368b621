import { toAppError } from '../../core/errors.js';
import type { DoctorCheck, DoctorCheckName } from '../../core/schemas/doctor.js';

/** What one check found: the line's text, and for a failure what to do. */
export type Finding = Pick<DoctorCheck, 'status' | 'detail' | 'fix'>;

export const passed = (detail: string): Finding => ({ status: 'ok', detail });
export const failed = (detail: string, fix: string): Finding => ({ status: 'fail', detail, fix });
/** A check that could not run because an earlier one failed (`because` names it). */
export const skipped = (because: string): Finding => ({ status: 'skip', detail: because });

/**
 * Runs one check and times it. A check reports what it knows as a Finding; anything it did not
 * expect still becomes a failed line (with the error's own message), so one broken check never
 * stops the ones after it.
 */
export async function runCheck(name: DoctorCheckName, f: () => Promise<Finding>): Promise<DoctorCheck> {
  const t0 = performance.now();
  let r: Finding;
  try {
    r = await f();
  } catch (e) {
    r = failed(toAppError(e).message, 'run `sleap-rtc doctor` again; if it fails the same way, report it with this line');
  }
  const ms = Math.round(performance.now() - t0);
  return { name, ok: r.status === 'ok', status: r.status, detail: r.detail, ...(r.fix ? { fix: r.fix } : {}), ...(r.status === 'skip' ? {} : { ms }) };
}

/** "ok   agent     http://127.0.0.1:8765 (v0.1.0, pid 1234)"; a failure adds " — <fix>". Names padded to the longest, "signaling". */
export function formatCheck(c: DoctorCheck): string {
  const status = c.status === 'fail' ? 'FAIL' : c.status;
  const name = c.name.padEnd(10);
  return `${status.padEnd(5)}${name}${c.detail}${c.fix ? ` — ${c.fix}` : ''}`;
}
