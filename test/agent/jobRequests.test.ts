// job_request / job_response matching (src/agent/jobs/JobRequests.ts), with node's mock timers:
// the 15 s timeout is reached by ticking the clock, not by waiting.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { JobRequests } from '../../src/agent/jobs/JobRequests.js';
import { isAppError } from '../../src/core/errors.js';

describe('JobRequests', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('an answer resolves the request of its job only', async () => {
    const r = new JobRequests(15_000);
    const a = r.expect('job-a', 'w1');
    const b = r.expect('job-b', 'w1');
    assert.equal(r.answer('job-b', { accepted: false, reason: 'busy: training' }), true);
    assert.deepEqual(await b, { accepted: false, reason: 'busy: training' });
    assert.equal(r.size, 1, 'job-a still waits');
    assert.equal(r.answer('job-a', { accepted: true }), true);
    assert.deepEqual(await a, { accepted: true });
    assert.equal(r.size, 0);
  });

  test('an answer nobody waits for (late, or for another job) is ignored', async () => {
    const r = new JobRequests(15_000);
    assert.equal(r.answer('job-x', { accepted: true }), false);
    const a = r.expect('job-a', 'w1');
    r.answer('job-a', { accepted: true });
    assert.equal(r.answer('job-a', { accepted: false, reason: 'a second answer' }), false);
    assert.deepEqual(await a, { accepted: true }, 'the first answer stands');
  });

  test('no answer within the timeout: a timeout error naming the worker and what to check', async () => {
    const r = new JobRequests(15_000);
    const a = r.expect('job-a', 'worker-7');
    mock.timers.tick(14_999);
    assert.equal(r.size, 1, 'still waiting just before the timeout');
    mock.timers.tick(1);
    await assert.rejects(a, (e: unknown) => isAppError(e, 'timeout') && /worker worker-7 did not answer the job request within 15 s; is it running\? \(GET \/api\/workers\)/.test(e.message));
    assert.equal(r.size, 0);
    assert.equal(r.answer('job-a', { accepted: true }), false, 'an answer after the timeout finds nothing');
  });

  test('cancel ends the wait as a refusal with the reason given', async () => {
    const r = new JobRequests(15_000);
    const a = r.expect('job-a', 'w1');
    assert.equal(r.cancel('job-a', 'cancelled: by the user before the worker answered'), true);
    assert.deepEqual(await a, { accepted: false, reason: 'cancelled: by the user before the worker answered' });
    assert.equal(r.cancel('job-a', 'again'), false);
  });

  test('drop forgets a request that was never sent: its timeout rejects nothing', async () => {
    const r = new JobRequests(15_000);
    let settled = false;
    void r.expect('job-a', 'w1').then(
      () => (settled = true),
      () => (settled = true),
    );
    r.drop('job-a');
    assert.equal(r.size, 0);
    mock.timers.tick(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'no rejection (it would be unhandled in the agent)');
  });

  test('a newer request for the same job ends the older one with an error', async () => {
    const r = new JobRequests(15_000);
    const older = r.expect('job-a', 'w1');
    const newer = r.expect('job-a', 'w1');
    await assert.rejects(older, (e: unknown) => isAppError(e, 'conflict') && /newer request/.test(e.message));
    r.answer('job-a', { accepted: true });
    assert.deepEqual(await newer, { accepted: true });
  });

  test('rejectAll ends every wait (the agent stops)', async () => {
    const r = new JobRequests(15_000);
    const a = r.expect('job-a', 'w1');
    const b = r.expect('job-b', 'w2');
    r.rejectAll(new Error('the agent is shutting down'));
    await assert.rejects(a, /shutting down/);
    await assert.rejects(b, /shutting down/);
    assert.equal(r.size, 0);
  });
});
