import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { keyInRoom, relativeKeyProblem } from '../../src/core/roomKeys.js';
import { roomRelativeKey } from '../../src/core/schemas/backend.js';

// The one room-key check, used by the server for every key it signs and by the worker for every
// dataset it is sent: hostile keys from a caller of room "lab" in bucket "b".
describe('keyInRoom: the room-key check of server and worker', () => {
  const accepted: Array<[string, string]> = [
    ['rooms/lab/datasets/p1/mice.pkg.slp', 'rooms/lab/datasets/p1/mice.pkg.slp'],
    ['s3://b/rooms/lab/datasets/p1/mice.pkg.slp', 'rooms/lab/datasets/p1/mice.pkg.slp'],
    ['rooms/lab/models/m-1/viz/train.0.png', 'rooms/lab/models/m-1/viz/train.0.png'],
    ['rooms/lab/a..b/.hidden/x...', 'rooms/lab/a..b/.hidden/x...'],
    ['rooms/lab/with space/ünïcode', 'rooms/lab/with space/ünïcode'],
  ];
  for (const [input, key] of accepted) {
    test(`accepted: ${JSON.stringify(input)}`, () => assert.equal(keyInRoom('lab', 'b', input), key));
  }

  const refused: Array<[string, 'bad_request' | 'forbidden', RegExp]> = [
    ['rooms/lab/../other/x', 'bad_request', /segments/],
    ['s3://b/rooms/lab/../other/datasets/x', 'bad_request', /segments/],
    ['rooms/lab/./x', 'bad_request', /segments/],
    ['rooms/lab//x', 'bad_request', /segments/],
    ['rooms/lab/x/', 'bad_request', /segments/],
    ['/rooms/lab/x', 'bad_request', /segments/],
    ['rooms/lab/..', 'bad_request', /segments/],
    ['rooms/lab/x\\..\\..\\other\\y', 'bad_request', /backslash/],
    ['rooms/lab\\x', 'bad_request', /backslash/],
    ['rooms/lab/x\u0000.slp', 'bad_request', /control/],
    ['rooms/lab/x\n.slp', 'bad_request', /control/],
    ['rooms/lab/x\u001f', 'bad_request', /control/],
    ['', 'bad_request', /segments/],
    ['s3://b', 'bad_request', /segments/],
    ['s3://b/', 'bad_request', /segments/],
    ['rooms/other/datasets/x', 'forbidden', /outside your room/],
    ['rooms/lab', 'forbidden', /outside your room/],
    ['rooms/labx/datasets/x', 'forbidden', /outside your room/],
    ['rooms/LAB/datasets/x', 'forbidden', /outside your room/],
    ['datasets/x', 'forbidden', /outside your room/],
    ['s3://other-bucket/rooms/lab/x', 'forbidden', /not this server's bucket/],
    ['s3:///rooms/lab/x', 'forbidden', /not this server's bucket/],
  ];
  for (const [input, code, message] of refused) {
    test(`refused (${code}): ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => keyInRoom('lab', 'b', input),
        (e: unknown) => isAppError(e, code) && message.test(e.message),
      );
    });
  }

  test('relativeKeyProblem and the backend schema for relative paths agree with it', () => {
    for (const s of ['a', 'a/b.c', '..a/b..', 'x y/z']) {
      assert.equal(relativeKeyProblem(s), undefined, s);
      assert.ok(roomRelativeKey.safeParse(s).success, s);
    }
    for (const s of ['..', '.', 'a/../b', 'a//b', '/a', 'a/', 'a\\b', 'a\u0000b', 'a\rb']) {
      assert.ok(relativeKeyProblem(s), s);
      assert.equal(roomRelativeKey.safeParse(s).success, false, s);
    }
  });
});
