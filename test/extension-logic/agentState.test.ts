import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobView } from '../../src/core/schemas/agent.js';
import { AgentState } from '../../src/extension/state/AgentState.js';

const job = (o: Partial<JobView>): JobView => ({ id: 'job-1', status: 'training', dataset: '/d/m.pkg.slp', created_at: '2026-12-01T10:00:00.000Z', updated_at: '2026-12-01T10:00:00.000Z', ...o });
const ev = (j: JobView, event?: unknown) => ({ event: 'job', data: { type: event ? 'event' : 'state', job: j, ...(event ? { event } : {}) } });

test('a job seen running is announced once, when it has settled (the model follows the final status)', () => {
  const s = new AgentState(() => undefined);
  const announced: string[] = [];
  s.onDidFinishJob((e) => announced.push(`${e.job.status}:${e.job.model?.model_id ?? '-'}`));
  s.apply(ev(job({})));
  s.apply(ev(job({}), { type: 'progress', job_id: 'job-1', seq: 1, t: 1, data: { event: 'epoch_end', epoch: 0, logs: { 'train/loss': 0.5, 'val/loss': 0.6 } } }));
  assert.equal(s.jobs.get('job-1')?.progress.valLoss, 0.6);
  s.apply(ev(job({ status: 'stopped' })));
  assert.deepEqual(announced, [], 'stopped, but the model is not known yet');
  s.apply(ev(job({ status: 'stopped', model: { model_id: 'm1', s3_path: 's3://b/m1/', metrics: {} } })));
  s.apply(ev(job({ status: 'stopped', model: { model_id: 'm1', s3_path: 's3://b/m1/', metrics: {} } })));
  assert.deepEqual(announced, ['stopped:m1']);
});

test('a job first seen already finished is not announced; an event that does not match its schema is ignored', () => {
  const logged: string[] = [];
  const s = new AgentState(() => undefined, (m) => logged.push(m));
  const announced: string[] = [];
  s.onDidFinishJob((e) => announced.push(e.job.id));
  s.apply(ev(job({ id: 'old', status: 'failed', error: { code: 'x', message: 'y' } })));
  s.apply({ event: 'job', data: { type: 'state', job: { id: 'bad' } } });
  s.apply({ event: 'upload', data: { type: 'progress', upload: { id: 'u', path: '/x', state: 'uploading', size: 10, bytes_done: 5 } } });
  assert.deepEqual(announced, []);
  assert.equal(s.jobs.has('bad'), false);
  assert.equal(s.uploads.get('u')?.bytes_done, 5);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /job event that does not match its schema/);
});
