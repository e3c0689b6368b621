import { z } from 'zod';

/**
 * The extension's settings (`sleapRtc.*`), validated: a wrong value falls back to its default
 * and is reported once, instead of breaking a command later. The room token is not a setting:
 * it lives in VS Code's SecretStorage (SLEAP: Set Room Token).
 */
export const settingsSchema = z.object({
  agentUrl: z.string().url().or(z.literal('')).default(''),
  dataFolder: z.string().default(''),
  autoStartAgent: z.boolean().default(true),
  serverUrl: z.string().url().or(z.literal('')).default(''),
  room: z.string().regex(/^([A-Za-z0-9._-]{1,64})?$/).default(''),
  partSize: z.number().int().min(5 * 1024 * 1024).max(5 * 1024 ** 3).default(8 * 1024 * 1024),
  /** Unset: the agent adapts it (its --concurrency default, auto). */
  concurrency: z.number().int().min(1).max(64).optional(),
  watchedFolders: z.array(z.object({ path: z.string().min(1), autoUpload: z.boolean().default(true) })).default([]),
  defaultTrainer: z.enum(['builtin', 'sleap-nn', 'command']).default('builtin'),
  defaultConfigFile: z.string().default(''),
});
export type Settings = z.infer<typeof settingsSchema>;
export const SETTING_KEYS = Object.keys(settingsSchema.shape) as (keyof Settings)[];

/** Reads every setting through `get`; returns the settings and the problems found. */
export function readSettings(get: (key: keyof Settings) => unknown): { settings: Settings; problems: string[] } {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const v = get(key);
    if (v === undefined || v === null) continue;
    const one = settingsSchema.shape[key].safeParse(v);
    if (one.success) raw[key] = v;
    else problems.push(`sleapRtc.${key} is not valid (${one.error.issues[0]?.message}): using the default`);
  }
  return { settings: settingsSchema.parse(raw), problems };
}
