import { parseArgs } from 'node:util';

/** Flags of one benchmark: positive whole numbers, strings and switches, each with its default. */
export interface FlagSpec<I extends string, S extends string, B extends string> {
  ints: Record<I, number>;
  strings?: Record<S, string>;
  booleans?: B[];
}

/**
 * Parses `--name value` flags with node's own parseArgs (strict: an unknown flag is an error that
 * lists the known ones) and checks that every number is a positive whole number.
 */
export function benchFlags<I extends string, S extends string = never, B extends string = never>(args: string[], spec: FlagSpec<I, S, B>): Record<I, number> & Record<S, string> & Record<B, boolean> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const k of [...Object.keys(spec.ints), ...Object.keys(spec.strings ?? {})]) options[k] = { type: 'string' };
  for (const k of spec.booleans ?? []) options[k] = { type: 'boolean' };
  const known = Object.keys(options).map((k) => `--${k}`).join(' ');
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new Error(`${(e as Error).message} (flags: ${known})`, { cause: e });
  }
  const out: Record<string, number | string | boolean> = {};
  for (const [k, dflt] of Object.entries(spec.ints) as Array<[string, number]>) {
    const v = values[k];
    if (v === undefined) out[k] = dflt;
    else {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} needs a positive integer, got ${String(v)}`);
      out[k] = n;
    }
  }
  for (const [k, dflt] of Object.entries(spec.strings ?? {}) as Array<[string, string]>) out[k] = (values[k] as string | undefined) ?? dflt;
  for (const k of spec.booleans ?? []) out[k] = values[k] === true;
  return out as Record<I, number> & Record<S, string> & Record<B, boolean>;
}
