// The Python client (clients/python) against a live stack: its unittest suite, run with Debian's
// python3, starts, restarts and stops its own agent on this stack's data folder (the SSE resume
// across an agent restart needs that), and must run every test, none skipped.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { removeDir, requireBundle, startStack, tempDir, type StackProcess } from '../extension-agent/support/env.js';
import { agentArgv, requirePython, runPython } from './support/python.js';

describe('the Python client against a live stack', () => {
  let dir: string;
  let data: string;
  let stack: StackProcess;
  let dataset: string;

  before(async () => {
    requireBundle();
    requirePython();
    dir = await tempDir('py-client-');
    data = join(dir, 'data');
    stack = await startStack(data);
    dataset = join(dir, 'labels.pkg.slp');
    await writeSyntheticSlp(dataset, { frames: 12, instancesPerFrame: 1, nodes: 3, embedded: true });
  });
  after(async () => {
    await stack?.stop();
    await removeDir(dir);
  });

  test('python3 -m unittest: every test runs and passes', { timeout: 900_000 }, async () => {
    const r = await runPython(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-t', 'clients/python', '-v'], { SLEAP_RTC_DATA: data, SLEAP_RTC_TEST_AGENT_ARGV: JSON.stringify(agentArgv(data, stack.serverUrl)), SLEAP_RTC_TEST_DATASET: dataset }, 840_000);
    const out = `stdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-20_000)}`;
    assert.equal(r.code, 0, out);
    const ran = /^Ran (\d+) tests? in /m.exec(r.stderr);
    assert.ok(ran && Number(ran[1]) > 0, out);
    assert.match(r.stderr, /^OK$/m, `no test may be skipped or fail\n${out}`);
    for (const name of ['test_events_resume_across_an_agent_restart', 'test_a_dropped_connection_resumes_with_last_event_id', 'test_wrong_token_is_auth_error', 'test_plain_line_without_tqdm']) {
      assert.match(r.stderr, new RegExp(`^${name} .* \\.\\.\\. ok$`, 'm'), `${name} ran\n${out}`);
    }
  });
});
