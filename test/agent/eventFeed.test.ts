import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventFeed } from '../../src/agent/EventFeed.js';

// The agent's SSE history, in process: what a reconnecting client is sent.

interface Block {
  id: string;
  event: string;
  /** The fields these tests read: `i` of the events they publish, `reason`/`message` of a reset. */
  data: { i?: number; reason?: string; message?: string };
}

function parse(block: string): Block {
  const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))!.slice(name.length + 2);
  return { id: field('id'), event: field('event'), data: JSON.parse(field('data')) };
}

function collect(feed: EventFeed, last?: string): { got: Block[]; off: () => void } {
  const got: Block[] = [];
  const off = feed.subscribe(last, (b) => got.push(parse(b)));
  return { got, off };
}

describe('EventFeed: Last-Event-ID resume of the agent events', () => {
  test('ids are <run>.<n>, numbered once for all clients; a client that resumes gets exactly what it missed, then the new events', () => {
    const feed = new EventFeed();
    const a = collect(feed);
    for (let i = 1; i <= 5; i++) feed.publish('upload', { i });
    assert.deepEqual(a.got.map((b) => b.data.i), [1, 2, 3, 4, 5]);
    const run = a.got[0].id.split('.')[0];
    assert.match(run, /^[0-9a-f]{8}$/);
    assert.deepEqual(a.got.map((b) => b.id), [1, 2, 3, 4, 5].map((n) => `${run}.${n}`));
    a.off();
    feed.publish('job', { i: 6 });
    feed.publish('upload', { i: 7 });
    const b = collect(feed, a.got[2].id); // it had seen up to 3
    feed.publish('upload', { i: 8 });
    assert.deepEqual(b.got.map((x) => x.data.i), [4, 5, 6, 7, 8]);
    assert.deepEqual(b.got.map((x) => x.event), ['upload', 'upload', 'job', 'upload', 'upload']);
    assert.equal(a.got.length, 5, 'an unsubscribed client gets nothing more');
    // Resuming from the newest id replays nothing; from .0, everything kept.
    assert.equal(collect(feed, `${run}.8`).got.length, 0);
    assert.equal(collect(feed, `${run}.0`).got.length, 8);
  });

  test('an id of an earlier agent run, an unknown or malformed id, or one older than the history kept: event reset with the reason and the current id', () => {
    const feed = new EventFeed();
    const first = collect(feed);
    feed.publish('upload', { i: 1 });
    const run = first.got[0].id.split('.')[0];
    const other = run === 'deadbeef' ? 'feedface' : 'deadbeef';
    for (const [id, reason] of [
      [`${other}.1`, 'agent_restarted'],
      [`${run}.99`, 'bad_id'],
      ['not-an-id', 'bad_id'],
    ] as const) {
      const c = collect(feed, id);
      assert.equal(c.got.length, 1, id);
      assert.equal(c.got[0].event, 'reset');
      assert.equal(c.got[0].data.reason, reason);
      assert.match(c.got[0].data.message ?? '', /GET \/api\/uploads/);
      assert.equal(c.got[0].id, `${run}.1`, 'the reset carries the current id, to resume from there next time');
      c.off();
    }
    for (let i = 2; i <= 10_050; i++) feed.publish('upload', { i });
    const old = collect(feed, `${run}.10`);
    assert.equal(old.got.length, 1);
    assert.equal(old.got[0].data.reason, 'too_old');
    const kept = collect(feed, `${run}.50`);
    assert.equal(kept.got.length, 10_000, 'the oldest kept event is .51');
    assert.equal(kept.got[0].data.i, 51);
    assert.equal(kept.got.at(-1)!.data.i, 10_050);
  });
});
