import { z } from 'zod';
import { peerMetadata, type PeerFilters, type PeerMetadata, type SignalingClientMessage } from '../../core/schemas/signaling.js';
import { SignalingError } from '../../core/signaling/SignalingError.js';

type PropertyValue = PeerMetadata['properties'][string];
type PropertyFilter = NonNullable<PeerFilters['properties']>[string];
type MetadataPatch = Extract<SignalingClientMessage, { type: 'update_metadata' }>['metadata'];

/** A scalar filter equals a scalar property, or is one of the elements of an array property. */
function equals(have: PropertyValue | undefined, want: string | number | boolean | null): boolean {
  if (have === undefined) return false;
  return Array.isArray(have) ? have.some((v) => v === want) : have === want;
}

function matchesProperty(have: PropertyValue | undefined, f: PropertyFilter): boolean {
  if (f === null || typeof f !== 'object') return equals(have, f);
  // Operators: each one given must hold; `{}` asks only that the property exists.
  if (have === undefined) return false;
  if (f.$eq !== undefined && !equals(have, f.$eq)) return false;
  if (f.$gte !== undefined && !(typeof have === 'number' && have >= f.$gte)) return false;
  if (f.$lte !== undefined && !(typeof have === 'number' && have <= f.$lte)) return false;
  return true;
}

/**
 * sleap-rtc's discover filters: `role` equal; `tags` matches a peer holding ANY of them (an
 * empty list filters nothing); each property equal to a scalar, or meeting `$eq`/`$gte`/`$lte`.
 */
export function matchesFilters(peer: { role: string; metadata: PeerMetadata }, filters: PeerFilters): boolean {
  if (filters.role !== undefined && peer.role !== filters.role) return false;
  if (filters.tags && filters.tags.length > 0 && !filters.tags.some((t) => peer.metadata.tags.includes(t))) return false;
  for (const [key, f] of Object.entries(filters.properties ?? {})) {
    const have = Object.hasOwn(peer.metadata.properties, key) ? peer.metadata.properties[key] : undefined;
    if (!matchesProperty(have, f)) return false;
  }
  return true;
}

/** `update_metadata`: tags are replaced when given, properties are merged key by key. */
export function mergeMetadata(current: PeerMetadata, patch: MetadataPatch): PeerMetadata {
  const merged = {
    tags: patch.tags ?? current.tags,
    properties: { ...current.properties, ...(patch.properties ?? {}) },
  };
  const r = peerMetadata.safeParse(merged);
  if (!r.success) throw new SignalingError('bad_message', `metadata after the update is invalid: ${z.prettifyError(r.error).slice(0, 200)}`, { reason: 'invalid_fields' });
  return r.data;
}
