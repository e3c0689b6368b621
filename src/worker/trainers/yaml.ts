/**
 * A small YAML writer for JSON-like values, enough for sleap-nn configs (Hydra / OmegaConf read
 * them). Strings are always double-quoted (JSON string syntax is valid YAML), floats always have
 * a decimal point (`1.0e-08`: YAML 1.1 loaders such as PyYAML read `1e-8` as a string), and
 * non-finite floats use YAML's `.nan` / `.inf`.
 */
export function toYaml(value: unknown): string {
  if (isMap(value) && Object.keys(value).length > 0) return mapping(value, 0).join('\n') + '\n';
  if (Array.isArray(value) && value.length > 0) return sequence(value, 0).join('\n') + '\n';
  return scalar(value) + '\n';
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isBlock(v: unknown): boolean {
  return (isMap(v) && Object.keys(v).length > 0) || (Array.isArray(v) && v.length > 0);
}

function mapping(obj: Record<string, unknown>, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const key = /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(k) ? k : JSON.stringify(k);
    if (isMap(v) && isBlock(v)) lines.push(`${pad}${key}:`, ...mapping(v, indent + 2));
    else if (Array.isArray(v) && isBlock(v)) lines.push(`${pad}${key}:`, ...sequence(v, indent + 2));
    else lines.push(`${pad}${key}: ${scalar(v)}`);
  }
  return lines;
}

function sequence(items: unknown[], indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const item of items) {
    if (isMap(item) && isBlock(item)) {
      const inner = mapping(item, indent + 2);
      lines.push(`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1));
    } else if (Array.isArray(item) && isBlock(item)) {
      lines.push(`${pad}-`, ...sequence(item, indent + 2));
    } else {
      lines.push(`${pad}- ${scalar(item)}`);
    }
  }
  return lines;
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return number(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[]';
  if (isMap(v)) return '{}';
  return JSON.stringify(String(v));
}

function number(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  const [mantissa, exponent] = s.split('e');
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  if (exponent === undefined) return m;
  const sign = exponent.startsWith('-') || exponent.startsWith('+') ? exponent[0] : '+';
  const digits = exponent.replace(/^[+-]/, '').padStart(2, '0');
  return `${m}e${sign}${digits}`;
}
