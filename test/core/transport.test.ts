import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseTransport } from '../../src/core/transport.js';

// Every row is the design's `choose_transport` (docs/architecture.md, "Transport choice") evaluated by hand.
const table: [size: number, type: string, realtime: boolean, expected: 'WebRTC' | 'S3'][] = [
  // Rule 1: real-time always WebRTC, whatever the size or type.
  [0, 'progress', true, 'WebRTC'],
  [5_000_000_000, 'dataset', true, 'WebRTC'],
  [100_000_001, 'model', true, 'WebRTC'],
  // Rule 2: below 10,000,000 bytes.
  [0, 'dataset', false, 'WebRTC'],
  [9_999_999, 'dataset', false, 'WebRTC'],
  [9_999_999, 'model', false, 'WebRTC'],
  [9_999_999, 'config', false, 'WebRTC'],
  // The 10,000,000 boundary: neither rule 2 (<), rule 3 (>) nor rule 4 (strict >) matches -> default.
  [10_000_000, 'dataset', false, 'WebRTC'],
  [10_000_000, 'model', false, 'WebRTC'],
  [10_000_000, 'config', false, 'WebRTC'],
  // Rule 4: strictly between the limits.
  [10_000_001, 'dataset', false, 'S3'],
  [10_000_001, 'model', false, 'S3'],
  [10_000_001, 'config', false, 'WebRTC'],
  [10_000_001, 'visualization', false, 'WebRTC'],
  [50_000_000, 'dataset', false, 'S3'],
  [50_000_000, 'inference_frames', false, 'WebRTC'],
  [99_999_999, 'model', false, 'S3'],
  [99_999_999, 'config', false, 'WebRTC'],
  [99_999_999, 'unknown-type', false, 'WebRTC'],
  // The 100,000,000 boundary: rule 3 is strict (>), rule 4 is strict (<) -> default.
  [100_000_000, 'dataset', false, 'WebRTC'],
  [100_000_000, 'model', false, 'WebRTC'],
  [100_000_000, 'config', false, 'WebRTC'],
  // Rule 3: above 100,000,000 bytes, any type.
  [100_000_001, 'dataset', false, 'S3'],
  [100_000_001, 'config', false, 'S3'],
  [5_000_000_000, 'model', false, 'S3'],
];

for (const [size, type, realtime, expected] of table) {
  test(`chooseTransport(${size}, ${type}, ${realtime}) -> ${expected}`, () => {
    assert.equal(chooseTransport(size, type, realtime), expected);
  });
}

test('chooseTransport refuses sizes that are not byte counts', () => {
  assert.throws(() => chooseTransport(-1, 'dataset', false), /non-negative/);
  assert.throws(() => chooseTransport(Number.NaN, 'dataset', false), /non-negative/);
});
