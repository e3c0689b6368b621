import { parse as parseYaml } from 'yaml';
import { AppError } from './errors.js';

/**
 * A training config file's text as a mapping: JSON, or YAML (sleap-nn's own format). Shared by
 * every front end that reads configs (the CLI reads the file itself, the extension through
 * VS Code's file system), so both refuse the same files with the same words.
 */
export function parseTrainingConfigText(text: string, name: string): Record<string, unknown> {
  const json = /\.json$/i.test(name);
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new AppError('bad_request', `the config ${name} is not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AppError('bad_request', `the config ${name} must be a mapping (data_config, model_config, trainer_config)`);
  return parsed as Record<string, unknown>;
}

/** Whether a YAML/JSON text looks like a training config (for pickers: not every YAML file is one). */
export function looksLikeTrainingConfig(text: string): boolean {
  return /\b(trainer_config|model_config|data_config)\b/.test(text);
}
