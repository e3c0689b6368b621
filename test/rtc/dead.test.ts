import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { pseudoRandom } from './fixtures/content.js';
import { connectPair, type Pair } from './fixtures/PeerProcess.js';

/**
 * Peer death: werift notices a vanished peer only after ~28 s and emits no close event
 * (docs/facts.md §3), so the link's heartbeat (1 s, dead after 5 s) must. The test side is the
 * offerer here (link.test.ts covers the answerer). The deadline is a liveness bound, not a figure.
 */
let pair: Pair | undefined;
after(async () => {
  await pair?.link.close();
  await pair?.peer.kill();
});

test('a SIGKILLed peer is declared dead by the heartbeat, failing the transfer in flight', async (t) => {
  pair = await connectPair({ localRole: 'offerer', config: { loopbackOnly: true } });
  const { link, peer, closes } = pair;
  const dead = new Promise<number>((resolve) => link.onClose((r) => r === 'dead' && resolve(performance.now())));
  const sending = link.sendFile('frames.bin', pseudoRandom(5_000_000, 2), 'inference_results');
  const outcome = sending.then(
    () => 'sent',
    (e: unknown) => e,
  );
  await peer.next('fileBegin', 10_000);
  await peer.kill('SIGKILL');
  const killedAt = performance.now();

  const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no onClose('dead') within 10 s; closes: ${closes.join(',')}`)), 10_000).unref());
  const deadAt = await Promise.race([dead, deadline]);
  assert.deepEqual(closes, ['dead']);
  assert.equal(link.state, 'closed');
  const err = await outcome;
  assert.ok(isAppError(err, 'aborted'), `the transfer in flight failed with aborted, got ${String(err)}`);
  assert.throws(() => link.sendJson({ type: 'heartbeat', t: 0 }), (e) => isAppError(e, 'aborted'));
  t.diagnostic(`SIGKILL -> onClose('dead'): ${((deadAt - killedAt) / 1000).toFixed(2)} s (heartbeat 1 s, dead after 5 s)`);
});
