import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { S3Target } from '../support/targets.js';
import { waitFor } from '../support/wait.js';

/**
 * The independent S3 clients from Debian that the store's tests run as peers (installed by
 * scripts/ci-install.sh), and how each is pointed at one target: by environment and temp
 * config files only, never the user's own configuration. Always run with argument arrays.
 */

export const AWS = '/usr/bin/aws';
export const PYTHON = '/usr/bin/python3';
export const RCLONE = '/usr/bin/rclone';
export const S3CMD = '/usr/bin/s3cmd';
export const S3FS = '/usr/bin/s3fs';
export const FUSERMOUNT = '/usr/bin/fusermount3';

export const run = promisify(execFile);

/** Environment for the aws cli and boto3: the target's keys, no config or credentials file. */
export function awsEnv(t: S3Target, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: t.accessKeyId, AWS_SECRET_ACCESS_KEY: t.secretAccessKey, AWS_DEFAULT_REGION: t.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...extra };
  // rclone 1.60 fails when AWS_CA_BUNDLE is set; a profile would point the aws cli elsewhere.
  delete e.AWS_CA_BUNDLE;
  delete e.AWS_PROFILE;
  return e;
}

/** Environment defining the rclone remote `<remote>:` for the target (run rclone with `--config /dev/null`). */
export function rcloneEnv(t: S3Target, remote = 'st'): NodeJS.ProcessEnv {
  const p = `RCLONE_CONFIG_${remote.toUpperCase()}_`;
  return awsEnv(t, {
    [`${p}TYPE`]: 's3',
    [`${p}PROVIDER`]: 'Other',
    [`${p}ACCESS_KEY_ID`]: t.accessKeyId,
    [`${p}SECRET_ACCESS_KEY`]: t.secretAccessKey,
    [`${p}ENDPOINT`]: t.endpoint,
    [`${p}REGION`]: t.region,
    [`${p}FORCE_PATH_STYLE`]: 'true',
  });
}

/** Writes an s3cmd config for the target to `path` (mode 0600; extra settings as `key = value` lines). */
export async function writeS3cmdConfig(t: S3Target, path: string, extra: Record<string, string> = {}): Promise<string> {
  const host = new URL(t.endpoint).host;
  const lines = { access_key: t.accessKeyId, secret_key: t.secretAccessKey, host_base: host, host_bucket: host, use_https: 'False', signature_v2: 'False', bucket_location: t.region, ...extra };
  await writeFile(path, `[default]\n${Object.entries(lines).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`, { mode: 0o600 });
  return path;
}

/** Why FUSE cannot work on this machine, or undefined when its device can be opened. */
export function fuseUnusable(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse does not exist: this kernel or container has no FUSE device (a container needs --device /dev/fuse), so nothing can be mounted';
  try {
    closeSync(openSync('/dev/fuse', 'r+'));
    return undefined;
  } catch (e) {
    return `/dev/fuse cannot be opened (${(e as NodeJS.ErrnoException).code ?? String(e)}): FUSE mounts are not permitted here`;
  }
}

/** True while `dir` is a mount point of this process's mount namespace. */
async function mounted(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and backslashes octal-escaped.
  const escaped = dir.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((line) => line.split(' ')[4] === escaped);
}

export interface S3fsMount {
  dir: string;
  /** Unmounts (fusermount3 -u, lazily if busy) and waits for s3fs to exit. */
  unmount(): Promise<void>;
}

/**
 * Mounts `bucket` of the target at `dir` with s3fs in the foreground (a child of this process,
 * so it ends with the test), keys in a 0600 passwd file in `secretsDir`; resolves once the mount
 * point shows up. `options` are extra `-o` settings.
 */
export async function mountS3fs(t: S3Target, bucket: string, dir: string, secretsDir: string, options: string[] = []): Promise<S3fsMount> {
  const passwd = join(secretsDir, 's3fs-passwd');
  await writeFile(passwd, `${t.accessKeyId}:${t.secretAccessKey}\n`, { mode: 0o600 });
  const opts = [`passwd_file=${passwd}`, `url=${t.endpoint}`, 'use_path_request_style', `endpoint=${t.region}`, 'sigv4', 'dbglevel=warn', ...options];
  const child = spawn(S3FS, [bucket, dir, '-f', ...opts.flatMap((o) => ['-o', o])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  await waitFor(
    async () => {
      if (gone !== undefined) throw new Error(`s3fs exited (${gone}) before ${dir} was mounted:\n${stderr}`);
      return (await mounted(dir)) ? true : undefined;
    },
    `s3fs to mount ${bucket} at ${dir}`,
    30_000,
    { lastSeen: () => stderr.slice(-2000) },
  );
  return {
    dir,
    unmount: async () => {
      if (gone === undefined) {
        await run(FUSERMOUNT, ['-u', dir]).catch(() => run(FUSERMOUNT, ['-u', '-z', dir]));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
