import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { unwritten, writevAll, type WritevTarget } from '../../src/core/writevAll.js';
import { repoRoot } from '../support/proc.js';

/**
 * The one writev loop (store file sink and hash-writer threads, Downloader). A real short write
 * can be forced (RLIMIT_FSIZE), but then the rest of the write fails with EFBIG: the kernel
 * offers no short write that a second writev completes. So the going-on after a short write is
 * tested with a real file behind a handle that passes on at most `max` bytes per call, and the
 * real short write checks that the helpers end with the kernel's error, having written what fit.
 */
const dir = mkdtempSync(join(tmpdir(), 'writev-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real file whose writev takes at most `max` bytes per call (an independent cut: no unwritten()). */
function shortWriting(fh: FileHandle, max: number): WritevTarget & { calls: number } {
  const t = {
    calls: 0,
    async writev(buffers: readonly Uint8Array[], position?: number | null) {
      t.calls++;
      const first = Buffer.concat(buffers).subarray(0, max);
      return fh.writev([first], position ?? undefined);
    },
  };
  return t;
}

describe('unwritten: what is left of a batch after a short write', () => {
  const b = (s: string): Buffer => Buffer.from(s);
  const strings = (bufs: Uint8Array[]): string[] => bufs.map((x) => Buffer.from(x).toString());

  test('cut inside a buffer, at a boundary, after all of it; views, not copies', () => {
    const bufs = [b('abc'), b('de'), b('fgh')];
    assert.deepEqual(strings(unwritten(bufs, 1)), ['bc', 'de', 'fgh']);
    assert.deepEqual(strings(unwritten(bufs, 3)), ['de', 'fgh']);
    assert.deepEqual(strings(unwritten(bufs, 6)), ['gh']);
    assert.deepEqual(unwritten(bufs, 8), []);
    const rest = unwritten(bufs, 4);
    assert.equal(rest[0].buffer, bufs[1].buffer, 'the rest is a view of the caller\'s buffer');
    assert.equal(rest[1], bufs[2], 'untouched buffers are passed on as they are');
  });

  test('a write that took nothing of a non-empty rest is an EIO error (looping on it would never end); an empty batch is done', () => {
    assert.throws(() => unwritten([b('abc')], 0), (e: NodeJS.ErrnoException) => e.code === 'EIO' && /none of the 3 bytes/.test(e.message));
    assert.deepEqual(unwritten([], 0), []);
    assert.deepEqual(unwritten([b('')], 0), []);
  });
});

describe('writevAll on a real file', () => {
  const bufs = (): Buffer[] => [randomBytes(1000), randomBytes(1), randomBytes(4096), randomBytes(333)];

  for (const max of [1, 7, 1000, 1 << 20]) {
    test(`writes at most ${max} bytes per call: every byte lands in order, at the file's position and at an explicit one`, async () => {
      const data = bufs();
      const whole = Buffer.concat(data);
      const path = join(dir, `short-${max}`);
      const fh = await open(path, 'w');
      try {
        const t = shortWriting(fh, max);
        await writevAll(t, data);
        assert.equal(t.calls, Math.ceil(whole.length / max));
        await writevAll(shortWriting(fh, max), data, 10_000);
      } finally {
        await fh.close();
      }
      const got = readFileSync(path);
      assert.ok(got.subarray(0, whole.length).equals(whole), 'at the file position');
      assert.ok(got.subarray(10_000).equals(whole), 'at position 10,000');
    });
  }

  test('a handle that writes nothing: an EIO error, not an endless loop', async () => {
    await assert.rejects(writevAll({ writev: async () => ({ bytesWritten: 0 }) }, [Buffer.alloc(5)]), (e: NodeJS.ErrnoException) => e.code === 'EIO');
  });

  test('a real short write (the file-size limit cuts a 2,100-byte writev at 1,024): both helpers end with EFBIG, with what fit written', () => {
    const out = join(dir, 'limit');
    mkdirSync(out);
    // The limit applies to the child only: bash sets it, then becomes node ("$0" "$@").
    const line = execFileSync('/usr/bin/bash', ['-c', 'ulimit -f 1; exec "$0" "$@"', process.execPath, '--import', 'tsx', 'test/core/fixtures/writevUnderFileSizeLimit.ts', out], { cwd: repoRoot, encoding: 'utf8' });
    const r = JSON.parse(line) as { plain: number; sync: string; async: string };
    assert.equal(r.plain, 1024, 'the kernel cut a plain writev short');
    assert.equal(r.sync, 'EFBIG', 'writevAllSync went on after the short write and got the kernel\'s error');
    assert.equal(r.async, 'EFBIG', 'writevAll too');
    const expected = Buffer.concat([Buffer.alloc(700, 1), Buffer.alloc(324, 2)]);
    for (const f of ['sync', 'async']) assert.ok(readFileSync(join(out, f)).equals(expected), `${f}: the first 1,024 bytes, in order`);
  });
});
