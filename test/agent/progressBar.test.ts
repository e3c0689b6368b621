import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytes } from '../../src/core/bytes.js';
import { formatEta, ProgressBar } from '../../src/agent/ProgressBar.js';

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
    assert.equal(s.text(), '\rbig.slp [############............]  50.0% 512 MiB / 1.00 GiB  200 MiB/s  ETA 0:03  uploading\x1b[K\n');
  });

  test('not a TTY: a plain line per second', () => {
    let now = 0;
    const s = fakeStream(false);
    const bar = new ProgressBar(s.out, 'a.zip', () => now);
    for (; now <= 2500; now += 250) bar.update({ bytesDone: now, total: 10_000, state: 'uploading' });
    assert.deepEqual(s.text().trim().split('\n'), [
      'a.zip:   0.0% 0 B / 9.77 KiB  -  ETA --:--  uploading',
      'a.zip:  10.0% 1000 B / 9.77 KiB  -  ETA --:--  uploading',
      'a.zip:  20.0% 1.95 KiB / 9.77 KiB  -  ETA --:--  uploading',
    ]);
  });

  test('a note is a line of its own, and the bar is drawn again after it', () => {
    let now = 0;
    const s = fakeStream(true);
    const bar = new ProgressBar(s.out, 'd.slp', () => now);
    bar.update({ bytesDone: 0, total: 1024, state: 'uploading' });
    bar.note('resuming: 1 of 2 parts, 512 B, already on the server');
    now = 200;
    bar.update({ bytesDone: 1024, total: 1024, state: 'uploading' });
    assert.equal(s.text().split('\n')[1], 'resuming: 1 of 2 parts, 512 B, already on the server');
    assert.match(s.text().split('\n')[2], /^\rd\.slp \[#+\] 100\.0%/);
  });

  test('formats bytes and ETAs', () => {
    assert.equal(bytes(0), '0 B');
    assert.equal(bytes(1536), '1.50 KiB');
    assert.equal(bytes(42 * 1024), '42.0 KiB', 'never "0.0 MiB" for a small file');
    assert.equal(formatEta(3725), '1:02:05');
    assert.equal(formatEta(undefined), '--:--');
  });
});
