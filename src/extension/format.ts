/**
 * How the extension writes sizes, rates, times and losses for people (tree items, the status
 * bar, notifications). Pure functions, tested without VS Code.
 */
import { bytes } from '../core/bytes.js';

export { bytes };

export function rate(bps: number | undefined): string {
  return bps === undefined || !Number.isFinite(bps) ? '' : `${bytes(bps)}/s`;
}

/** Seconds as "42 s", "3 min 5 s", "2 h 10 min". */
export function duration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s) || s < 0) return '';
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${t % 60} s`;
  return `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
}

export function percent(done: number, total: number): string {
  if (!(total > 0)) return done > 0 ? '100 %' : '0 %';
  return `${Math.min(100, Math.floor((done / total) * 100))} %`;
}

/** Losses fall by orders of magnitude: 4 significant digits, exponent form when small. */
export function loss(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : Number(v.toPrecision(4)).toString();
}

/** The last path segment, for labels (paths stay in tooltips). */
export function baseName(p: string): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

/** "2026-12-01T10:00:00.000Z" -> local "2026-12-01 10:00". */
export function shortDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
