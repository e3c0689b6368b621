import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from './errors.js';

/**
 * `<data>/stack-secrets.json`, written once (mode 0600; on Windows private by the profile folder's ACL, core/dataPrivacy.ts) by `sleap-rtc stack`: the store's keys and
 * the room and its token. Workers and agents on the same machine read it with --stack-secrets.
 */
export const stackSecretsSchema = z.object({
  access_key: z.string().min(1),
  secret_key: z.string().min(1),
  room_id: z.string().min(1),
  room_token: z.string().min(16),
});
export type StackSecrets = z.infer<typeof stackSecretsSchema>;

/** Reads and checks a stack secrets file; ENOENT is passed through as the original error. */
export function readStackSecrets(file: string): StackSecrets {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    throw new AppError('config_invalid', `cannot read the stack secrets file ${file}: ${(e as Error).message}`);
  }
  const r = stackSecretsSchema.safeParse(parsed);
  if (!r.success) throw new AppError('config_invalid', `${file} is not a sleap-rtc stack secrets file (access_key, secret_key, room_id, room_token): give the stack's stack-secrets.json, or delete it to have the stack make a new one`);
  return r.data;
}

/** readStackSecrets for a --stack-secrets flag: a missing file is a configuration error too. */
export function readSecretsFlag(file: string): StackSecrets {
  try {
    return readStackSecrets(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new AppError('config_invalid', `--stack-secrets ${file} does not exist: give <data>/stack-secrets.json of a running \`sleap-rtc stack\``);
    throw e;
  }
}
