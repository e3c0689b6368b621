/**
 * Stable run colours: a run's colour comes from a hash of its job id, so it is the same after a
 * reload, in another panel, and whichever runs are compared with it (as long as two compared runs
 * do not hash alike: then the later id, in id order, takes the next free colour).
 */

/** FNV-1a, 32 bits: small, well spread for short ids. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Palette index per id; ids beyond the palette's size share colours (probing stops). */
export function runColorIndexes(ids: readonly string[], paletteSize: number): Map<string, number> {
  const out = new Map<string, number>();
  const taken = new Set<number>();
  for (const id of [...new Set(ids)].sort()) {
    let i = hashId(id) % paletteSize;
    for (let probe = 0; probe < paletteSize && taken.has(i); probe++) i = (i + 1) % paletteSize;
    taken.add(i);
    out.set(id, i);
  }
  return out;
}
