// Worker choice (src/agent/jobs/workerChoice.ts) against a real `sleap-rtc server`: its
// discover_peers does the filtering (trainer tag, status available), so the test registers real
// peers with the metadata workers publish and asks as the agent does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pickWorker, type DiscoverPeers } from '../../src/agent/jobs/workerChoice.js';
import { isAppError } from '../../src/core/errors.js';
import { SignalingClient } from '../../src/core/signaling/SignalingClient.js';
import { clientOptions, startSignalingServer, type SignalingServerProc } from '../signaling/setup.js';
import { startEmbeddedStore, type EmbeddedStoreTarget } from '../support/store.js';

describe('pickWorker (a real signaling server)', () => {
  let store: EmbeddedStoreTarget;
  let srv: SignalingServerProc;
  const peers: SignalingClient[] = [];
  let agent: SignalingClient;
  let discover: DiscoverPeers;

  const worker = async (peerId: string, tags: string[], status: string, room: 'lab' | 'other' = 'lab'): Promise<SignalingClient> => {
    const c = new SignalingClient(clientOptions(srv, peerId, { role: 'worker', room, metadata: { tags, properties: { status } } }));
    await c.connect();
    peers.push(c);
    return c;
  };

  before(async () => {
    store = await startEmbeddedStore();
    srv = await startSignalingServer(store);
    agent = new SignalingClient(clientOptions(srv, 'agent-choice', { metadata: { tags: ['agent'] } }));
    await agent.connect();
    peers.push(agent);
    discover = (filters) => agent.discover(filters);
    await worker('gpu-busy', ['builtin', 'sleap-nn'], 'busy');
    await worker('cpu-free', ['builtin'], 'available');
    await worker('nn-busy', ['sleap-nn'], 'busy');
    await worker('elsewhere', ['torch'], 'available', 'other');
  });

  after(async () => {
    await Promise.allSettled(peers.map((p) => p.close()));
    await srv?.stop();
    await store?.stop();
  });

  test('a named worker in the room is taken as it is, busy or not, whatever its trainers', async () => {
    assert.equal(await pickWorker(discover, 'lab', 'gpu-busy', 'builtin'), 'gpu-busy');
    assert.equal(await pickWorker(discover, 'lab', 'nn-busy', 'builtin'), 'nn-busy');
  });

  test('a named worker not in the room: unknown_worker, listing the workers there', async () => {
    await assert.rejects(pickWorker(discover, 'lab', 'elsewhere', 'builtin'), (e: unknown) => {
      assert.ok(isAppError(e, 'unknown_worker'));
      assert.match(e.message, /^no worker "elsewhere" in room lab; the workers there now: /);
      for (const id of ['gpu-busy', 'cpu-free', 'nn-busy']) assert.match(e.message, new RegExp(id));
      return true;
    });
  });

  test('no name: the free worker that trains with the trainer (the server filters)', async () => {
    assert.equal(await pickWorker(discover, 'lab', undefined, 'builtin'), 'cpu-free');
  });

  test('every fitting worker busy: no_worker naming them', async () => {
    await assert.rejects(pickWorker(discover, 'lab', undefined, 'sleap-nn'), (e: unknown) => isAppError(e, 'no_worker') && /^every worker that trains with sleap-nn is busy and its queue full \((gpu-busy, nn-busy|nn-busy, gpu-busy)\); try again later or name one with "worker"$/.test(e.message));
  });

  test('none free: the fitting worker with the shortest queue that has room (queue_length, max_queue)', async () => {
    const full = await worker('q-full', ['command'], 'busy');
    await full.updateMetadata({ properties: { status: 'busy', queue_length: 2, max_queue: 2 } });
    const long = await worker('q-long', ['command'], 'busy');
    await long.updateMetadata({ properties: { status: 'busy', queue_length: 3, max_queue: 16 } });
    const short = await worker('q-short', ['command'], 'busy');
    await short.updateMetadata({ properties: { status: 'busy', queue_length: 1, max_queue: 16 } });
    assert.equal(await pickWorker(discover, 'lab', undefined, 'command'), 'q-short');
    await short.updateMetadata({ properties: { status: 'busy', queue_length: 16, max_queue: 16 } });
    assert.equal(await pickWorker(discover, 'lab', undefined, 'command'), 'q-long', 'a full queue is passed over');
    await long.updateMetadata({ properties: { status: 'busy', queue_length: 16, max_queue: 16 } });
    await assert.rejects(pickWorker(discover, 'lab', undefined, 'command'), (e: unknown) => isAppError(e, 'no_worker') && /busy and its queue full/.test(e.message));
  });

  test('no worker trains with it: no_worker saying how to start one', async () => {
    await assert.rejects(pickWorker(discover, 'lab', undefined, 'torch'), (e: unknown) => isAppError(e, 'no_worker') && e.message === 'no worker in room lab trains with torch; start one (sleap-rtc worker --trainer torch) or choose another trainer');
  });

  test('a worker that becomes free is chosen next; an empty room says "none"', async () => {
    const nn = peers.find((p) => p.metadata.tags.includes('sleap-nn') && !p.metadata.tags.includes('builtin'))!;
    await nn.updateMetadata({ properties: { status: 'available' } });
    assert.equal(await pickWorker(discover, 'lab', undefined, 'sleap-nn'), 'nn-busy');
    const lonely = new SignalingClient(clientOptions(srv, 'agent-other', { room: 'other' }));
    await lonely.connect();
    peers.push(lonely);
    await assert.rejects(pickWorker((f) => lonely.discover(f), 'other', 'cpu-free', 'builtin'), (e: unknown) => isAppError(e, 'unknown_worker') && /the workers there now: elsewhere$/.test(e.message));
  });
});
