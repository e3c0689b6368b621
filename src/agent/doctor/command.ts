import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { AppError, toAppError } from '../../core/errors.js';
import { createLogger, setLogLevel, type LogLevel } from '../../core/log.js';
import { dataHome } from '../../core/paths.js';
import { iceServer } from '../../core/rtc/linkConfig.js';
import type { DoctorCheck, DoctorReport } from '../../core/schemas/doctor.js';
import type { SignalingClient } from '../../core/signaling/SignalingClient.js';
import { readStackInfo, stackInfoFile } from '../../core/stackInfo.js';
import { readSecretsFlag } from '../../core/stackSecrets.js';
import { BackendClient } from '../../core/transfer/BackendClient.js';
import { agentConfigSchema } from '../config.js';
import { checkAgent } from './agentCheck.js';
import { formatCheck, runCheck, skipped, failed } from './check.js';
import { checkDisk } from './diskCheck.js';
import { checkS3 } from './s3Check.js';
import { checkServer, type ServerTarget } from './serverCheck.js';
import { checkSignaling } from './signalingCheck.js';
import { checkWebrtc } from './webrtcCheck.js';

/** The agent's own options, so that the doctor checks what the agent would use; --server may come from the stack. */
export const doctorConfigSchema = agentConfigSchema
  .pick({ data: true, roomToken: true, stackSecrets: true, room: true, iceServers: true, loopbackOnly: true })
  .extend({ server: z.string().url('the backend URL, e.g. http://127.0.0.1:8080 (--server or SLEAP_RTC_SERVER)').optional() });
export type DoctorConfig = z.infer<typeof doctorConfigSchema>;

/** Where a setting came from, for the lines (a flag, its environment variable, or the config file). */
function sourceOf(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, flag: string, envName: string): string {
  if (flags[flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] !== undefined) return flag;
  return env[envName] ? envName : 'the config file';
}

interface Targets {
  data: string;
  server: ServerTarget;
  room?: string;
  /** Why the room token could not be read (a bad --stack-secrets file). */
  tokenProblem?: string;
}

/** The server, room token and room: flags and environment first, else the data folder's running stack. */
export function resolveTargets(cfg: DoctorConfig, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Targets {
  const data = dataHome(cfg.data, env);
  let stack;
  try {
    stack = readStackInfo(data);
  } catch {
    stack = undefined;
  }
  const server: ServerTarget = cfg.server
    ? { url: cfg.server, urlFrom: sourceOf(flags, env, '--server', 'SLEAP_RTC_SERVER') }
    : stack
      ? { url: stack.server_url, urlFrom: stackInfoFile(data) }
      : { urlFrom: `none of --server, SLEAP_RTC_SERVER or ${stackInfoFile(data)}` };
  const defaultSecrets = join(data, 'stack-secrets.json');
  const secretsFile = cfg.stackSecrets ?? (existsSync(defaultSecrets) ? defaultSecrets : undefined);
  let secrets;
  let tokenProblem: string | undefined;
  if (secretsFile && (!cfg.roomToken || !cfg.room)) {
    try {
      secrets = readSecretsFlag(secretsFile);
    } catch (e) {
      tokenProblem = toAppError(e).message;
    }
  }
  const token = cfg.roomToken
    ? { token: cfg.roomToken, tokenFrom: sourceOf(flags, env, '--room-token', 'SLEAP_RTC_ROOM_TOKEN') }
    : secrets
      ? { token: secrets.room_token, tokenFrom: secretsFile }
      : {};
  return { data, server: { ...server, ...token }, room: cfg.room ?? secrets?.room_id ?? stack?.room, tokenProblem };
}

/**
 * Runs every check in order, each on what the ones before it found; a check whose prerequisite
 * failed is skipped. Prints a line per check as it ends (or, with `json`, one object at the
 * end) and resolves with the report.
 */
export async function doctor(cfg: DoctorConfig, t: Targets, o: { json: boolean; out: (line: string) => void }): Promise<DoctorReport> {
  const log = createLogger('doctor');
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck): DoctorCheck => {
    checks.push(c);
    if (!o.json) o.out(formatCheck(c));
    return c;
  };
  const ice = z.array(iceServer).safeParse(cfg.iceServers ?? []);
  if (!ice.success) throw new AppError('config_invalid', `--ice-servers must be a JSON list of {"urls": ...}: ${ice.error.issues[0]?.message}`);
  // Few, short retries: the doctor reports a failure rather than riding it out as an upload would.
  const backend = t.server.url && t.server.token ? new BackendClient({ baseUrl: t.server.url, token: t.server.token, retry: { maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 1000 }, requestTimeoutMs: 10_000, outage: 'count' }) : undefined;

  add(await runCheck('agent', () => checkAgent(t.data)));
  const server = add(
    await runCheck('server', async () => {
      if (t.tokenProblem && !t.server.token) return failed(t.tokenProblem, 'give --stack-secrets <data>/stack-secrets.json of a running stack, or the room token by SLEAP_RTC_ROOM_TOKEN');
      return checkServer(t.server, t.room, backend);
    }),
  );
  const afterServer = `not checked: the server check failed`;
  add(await runCheck('s3', () => (server.ok && backend ? checkS3(backend, AbortSignal.timeout(30_000)) : Promise.resolve(skipped(afterServer)))));
  let signaling: SignalingClient | undefined;
  let worker: string | undefined;
  const sig = add(
    await runCheck('signaling', async () => {
      if (!server.ok || !t.server.url || !t.server.token) return skipped(afterServer);
      if (!t.room) return failed('no room id given, and none in a stack secrets file', 'pass --room <id> (or SLEAP_RTC_ROOM), or --stack-secrets <data>/stack-secrets.json');
      const probe = await checkSignaling({ server: t.server.url, room: t.room, token: t.server.token, log: log.child('signaling') });
      signaling = probe.client;
      worker = probe.workers[0]?.peer_id;
      return probe.finding;
    }),
  );
  try {
    add(
      await runCheck('webrtc', () => {
        if (!signaling || !worker) return Promise.resolve(skipped(sig.status === 'skip' ? afterServer : `not checked: ${worker ? 'signaling failed' : 'no worker is visible'}`));
        return checkWebrtc({ signaling, worker, link: { iceServers: ice.data, loopbackOnly: cfg.loopbackOnly }, log: log.child('rtc') });
      }),
    );
  } finally {
    await signaling?.close();
  }
  add(await runCheck('disk', () => checkDisk(t.data)));
  const report: DoctorReport = { ok: checks.every((c) => c.ok), checks };
  if (o.json) o.out(JSON.stringify(report));
  return report;
}

/** `sleap-rtc doctor [--json]`: resolves with the exit code, 0 when every check passed, 1 otherwise. */
export async function runDoctor(flags: Record<string, unknown>): Promise<number> {
  const { config, logLevel, json, ...rest } = flags;
  // Quiet by default: the lines say what is wrong; --log-level shows the parts' own logs.
  setLogLevel((logLevel as LogLevel | undefined) ?? 'error');
  const cfg = loadConfig(doctorConfigSchema, { flags: rest, env: process.env, file: config as string | undefined });
  const targets = resolveTargets(cfg, rest, process.env);
  const report = await doctor(cfg, targets, { json: json === true, out: (line) => process.stdout.write(line + '\n') });
  return report.ok ? 0 : 1;
}
