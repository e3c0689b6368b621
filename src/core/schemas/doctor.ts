import { z } from 'zod';

/**
 * `sleap-rtc doctor --json`: one object on stdout for scripts. The checks come in the order
 * they ran; a check whose prerequisite failed is `skip` (and not ok).
 */
export const doctorCheckName = z.enum(['agent', 'server', 's3', 'signaling', 'webrtc', 'disk']);
export type DoctorCheckName = z.infer<typeof doctorCheckName>;

export const doctorCheckStatus = z.enum(['ok', 'fail', 'skip']);
export type DoctorCheckStatus = z.infer<typeof doctorCheckStatus>;

export const doctorCheck = z.object({
  name: doctorCheckName,
  ok: z.boolean(),
  status: doctorCheckStatus,
  /** What was found (never a token or a presigned URL). */
  detail: z.string(),
  /** What to do about a failure. */
  fix: z.string().optional(),
  /** How long the check took. */
  ms: z.number().min(0).optional(),
});
export type DoctorCheck = z.infer<typeof doctorCheck>;

export const doctorReport = z.object({ ok: z.boolean(), checks: z.array(doctorCheck) });
export type DoctorReport = z.infer<typeof doctorReport>;
