import { AppError } from '../errors.js';
import type { SlpSkeleton } from './types.js';

/**
 * Skeletons from the JSON in `metadata.attrs.json`. SLEAP writes them with jsonpickle as
 * networkx node-link graphs: a file-wide `nodes` list of `{name}`, and per skeleton `nodes`
 * holding indices into it (in the skeleton's own order, which is the order of each instance's
 * points) and `links` whose `type` is an EdgeType (1 = edge, 2 = symmetry), spelled out the first
 * time (`py/reduce`) and referenced by jsonpickle object id (`py/id`) afterwards.
 */
interface RawLink {
  source: unknown;
  target: unknown;
  type?: { 'py/reduce'?: unknown[]; 'py/id'?: number };
}
interface RawSkeleton {
  graph?: { name?: string };
  nodes?: { id: unknown }[];
  links?: RawLink[];
  nx_graph?: RawSkeleton;
}

export function parseSkeletons(metadata: unknown, path: string): SlpSkeleton[] {
  const md = metadata as { nodes?: { name?: unknown }[]; skeletons?: RawSkeleton[] } | null;
  if (!md || !Array.isArray(md.skeletons) || !Array.isArray(md.nodes)) {
    throw new AppError('bad_request', `${path}: the metadata JSON has no skeletons; this is not a SLEAP labels file`);
  }
  const nodeNames = md.nodes.map((n, i) => (typeof n?.name === 'string' ? n.name : `node${i}`));
  return md.skeletons.map((raw, s) => {
    const skel = raw.nx_graph ?? raw;
    const ids = (skel.nodes ?? []).map((n) => nodeIndex(n.id));
    const bad = ids.find((id) => id === undefined || id < 0 || id >= nodeNames.length);
    if (bad !== undefined || ids.length === 0) {
      throw new AppError('bad_request', `${path}: skeleton ${s} refers to nodes the file does not list`);
    }
    const names = ids.map((id) => nodeNames[id as number]);
    const nameOf = (v: unknown): string | undefined => {
      const id = nodeIndex(v);
      return id === undefined ? undefined : ids.includes(id) ? nodeNames[id] : undefined;
    };
    const edges: [string, string][] = [];
    const symmetries: [string, string][] = [];
    const seenSym = new Set<string>();
    const typeById = new Map<number, number>();
    let nextPyId = 1;
    for (const link of skel.links ?? []) {
      let kind: number | undefined;
      const reduce = link.type?.['py/reduce'];
      if (Array.isArray(reduce)) {
        kind = Number((reduce[1] as { 'py/tuple'?: unknown[] } | undefined)?.['py/tuple']?.[0]);
        typeById.set(nextPyId++, kind);
      } else if (typeof link.type?.['py/id'] === 'number') {
        kind = typeById.get(link.type['py/id']) ?? link.type['py/id'];
      }
      const a = nameOf(link.source);
      const b = nameOf(link.target);
      if (a === undefined || b === undefined) continue;
      if (kind === 1) edges.push([a, b]);
      else if (kind === 2) {
        const key = [a, b].sort().join('\u0000');
        if (!seenSym.has(key)) {
          seenSym.add(key);
          symmetries.push([a, b]);
        }
      }
    }
    return { name: typeof skel.graph?.name === 'string' ? skel.graph.name : `Skeleton-${s}`, nodes: names, edges, symmetries };
  });
}

/** A node reference: an integer index into the file-wide node list (what sleap-io reads too). */
function nodeIndex(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}
