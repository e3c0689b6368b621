import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from './errors.js';
import { setLogLevel, type LogLevel } from './log.js';

/**
 * Each process builds its configuration here, once, at its entry point:
 * defaults < config file (JSON) < environment (SLEAP_RTC_<KEY>) < command-line flags.
 * The merged object is validated by the process's own schema; nothing below reads process.env.
 */
export interface ConfigSources {
  flags: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** Path of a JSON config file, from --config or SLEAP_RTC_CONFIG. */
  file?: string;
}

function envName(key: string): string {
  return 'SLEAP_RTC_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase();
}

export function loadConfig<S extends z.ZodObject>(schema: S, src: ConfigSources): z.infer<S> {
  const keys = Object.keys(schema.shape);
  const merged: Record<string, unknown> = {};
  const file = src.file ?? src.env.SLEAP_RTC_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new AppError('config_invalid', `cannot read config file ${file}: ${(e as Error).message}. Give a JSON file with the keys ${keys.join(', ')}.`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new AppError('config_invalid', `config file ${file} must hold a JSON object`);
    }
    Object.assign(merged, parsed);
  }
  for (const key of keys) {
    const v = src.env[envName(key)];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  for (const [k, v] of Object.entries(src.flags)) if (v !== undefined && keys.includes(k)) merged[k] = v;
  const r = schema.safeParse(merged);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'} (flag --${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} or ${envName(String(i.path[0] ?? ''))}): ${i.message}`);
    throw new AppError('config_invalid', `invalid configuration: ${problems.join('; ')}`);
  }
  return r.data;
}

/** Port numbers given as strings by env or flags. 0 picks a free port. */
export const portSchema = z.coerce.number().int().min(0).max(65535);

/**
 * What every subcommand's entry point does first: the common flags (`--config`, `--log-level`)
 * are taken out, the log level set, and the rest loaded with `schema` from flags, environment
 * and the config file.
 */
export function loadCommandConfig<S extends z.ZodObject>(schema: S, flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const { config, logLevel, ...rest } = flags;
  if (logLevel) setLogLevel(logLevel as LogLevel);
  return loadConfig(schema, { flags: rest, env, file: config as string | undefined });
}
