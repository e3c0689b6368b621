import { stringify, type ScalarTag } from 'yaml';

/**
 * sleap-nn configs as YAML, written by the `yaml` package for the readers sleap-nn uses (Hydra /
 * OmegaConf, on PyYAML). Written for YAML 1.1, as PyYAML reads it: a key such as `on`, `yes` or
 * `null` is quoted (unquoted, PyYAML reads it as a boolean or None). Strings are double-quoted;
 * floats always have a decimal point (`1.0e-08`: PyYAML reads `1e-8` as a string), integers past
 * 2^53's exact range (1e21 and up, which JavaScript prints with an exponent) too; non-finite
 * floats are `.nan` / `.inf`.
 */
export function toYaml(value: unknown): string {
  return stringify(value, {
    version: '1.1',
    customTags: (tags) => [pyyamlFloat, ...tags],
    defaultStringType: 'QUOTE_DOUBLE',
    defaultKeyType: 'PLAIN',
    // Never fold long strings (a folded double-quoted scalar reads back the same, but is harder to diff).
    lineWidth: 0,
  });
}

/** A float as PyYAML's float pattern wants it: a `.` in the mantissa, a signed two-digit-or-more exponent. */
const pyyamlFloat: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => typeof v === 'number' && !(Number.isInteger(v) && Math.abs(v) < 1e21),
  // What floatText writes (the yaml package uses a default tag for writing only if it has one).
  test: /^(?:[-+]?[0-9]+\.[0-9]*(?:e[-+][0-9]{2,})?|[-+]?\.inf|\.nan)$/,
  resolve: (s) => (s.endsWith('.nan') ? NaN : s.endsWith('.inf') ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s)),
  stringify: ({ value }) => floatText(value as number),
};

function floatText(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
  const [mantissa, exponent] = String(n).split('e');
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  if (exponent === undefined) return m;
  const sign = exponent.startsWith('-') || exponent.startsWith('+') ? exponent[0] : '+';
  return `${m}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}
