// Types of scripts/package.mjs for the TypeScript that imports it (tests, bench).
export interface VsixEntry {
  /** Path inside the .vsix (the extension's files are under `extension/`). */
  name: string;
  /** Uncompressed bytes. */
  size: number;
  compressed: number;
}
export interface PackagedVsix {
  path: string;
  /** Bytes of the .vsix file. */
  size: number;
  entries: VsixEntry[];
}
export const repoRoot: string;
export function defaultVsixPath(): string;
export function zipEntries(path: string): Promise<VsixEntry[]>;
export function checkEntries(names: string[]): string[];
export function packageVsix(opts?: { out?: string; quiet?: boolean }): Promise<PackagedVsix>;
export function summarize(entries: VsixEntry[]): string[];
export function mib(bytes: number): string;
