import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBytes, formatEta, ProgressBar } from '../../src/agent/ProgressBar.js';

function fakeStream(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let buf = '';
  const out = { isTTY, write: (s: string) => ((buf += s), true) } as unknown as NodeJS.WriteStream;
  return { out, text: () => buf };
}

describe('upload progress bar', () => {
  test('on a TTY: one line redrawn in place with bar, percent, rate and ETA, at most 10 per second', () => {
    let now = 0;
    const s = fakeStream(true);
    const bar = new ProgressBar(s.out, 'big.slp', () => now);
    bar.update({ bytesDone: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, rateBps: 200 * 1024 * 1024, etaS: 2.6, state: 'uploading' });
    now = 50;
    bar.update({ bytesDone: 600 * 1024 * 1024, total: 1024 * 1024 * 1024, rateBps: 200 * 1024 * 1024, etaS: 2, state: 'uploading' });
    bar.done();
    assert.equal(s.text(), '\rbig.slp [############............]  50.0% 512.0 MiB / 1.0 GiB  200.0 MiB/s  ETA 0:03  uploading\x1b[K\n');
  });

  test('not a TTY: a plain line per second', () => {
    let now = 0;
    const s = fakeStream(false);
    const bar = new ProgressBar(s.out, 'a.zip', () => now);
    for (; now <= 2500; now += 250) bar.update({ bytesDone: now, total: 10_000, state: 'uploading' });
    assert.deepEqual(s.text().trim().split('\n'), [
      'a.zip:   0.0% 0 B / 9.8 KiB  -  ETA --:--  uploading',
      'a.zip:  10.0% 1000 B / 9.8 KiB  -  ETA --:--  uploading',
      'a.zip:  20.0% 2.0 KiB / 9.8 KiB  -  ETA --:--  uploading',
    ]);
  });

  test('formats bytes and ETAs', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatEta(3725), '1:02:05');
    assert.equal(formatEta(undefined), '--:--');
  });
});
