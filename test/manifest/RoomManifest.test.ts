// Server-free tests of the room manifest module: keys, the If-Match rule, parsing, alias moves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { isAppError } from '../../src/core/errors.js';
import { emptyManifest, ifMatchValue, manifestKey, parseManifest, putModel, updateManifest } from '../../src/core/manifest/index.js';
import { makeModel } from './helpers.js';

describe('room manifest: keys and ETags', () => {
  test('manifestKey is rooms/<room_id>/manifest.json, with a configurable prefix', () => {
    assert.equal(manifestKey('lab-1'), 'rooms/lab-1/manifest.json');
    assert.equal(manifestKey('lab-1', 'tenants/a/rooms'), 'tenants/a/rooms/lab-1/manifest.json');
    assert.equal(manifestKey('lab-1', '/x/'), 'x/lab-1/manifest.json');
    assert.equal(manifestKey('lab-1', ''), 'lab-1/manifest.json');
  });

  test('manifestKey refuses room ids that would escape or alias another key', () => {
    for (const bad of ['', '../etc', 'a/b', '.hidden', 'a..b', 'x'.repeat(129), 'sp ace']) {
      assert.throws(() => manifestKey(bad), (e: unknown) => isAppError(e, 'bad_request'), bad);
    }
  });

  test('ifMatchValue sends the bare ETag: no quotes, no weak marker', () => {
    assert.equal(ifMatchValue('"0123abcd"'), '0123abcd');
    assert.equal(ifMatchValue('0123abcd'), '0123abcd');
    assert.equal(ifMatchValue('W/"0123abcd"'), '0123abcd');
    assert.equal(ifMatchValue(' "d41d8cd98f00b204e9800998ecf8427e-3" '), 'd41d8cd98f00b204e9800998ecf8427e-3');
  });
});

describe('room manifest: parsing', () => {
  const valid = { version: 3, room_id: 'r1', updated_at: '2026-11-24T00:00:00.000Z', models: {}, aliases: {} };

  test('a valid manifest parses, defaults filled in', () => {
    const m = parseManifest(JSON.stringify({ ...valid, aliases: undefined }), 'r1');
    assert.deepEqual(m.aliases, {});
    assert.equal(m.version, 3);
  });

  test('non-JSON, a schema mismatch and another room id are all "corrupt", with the reason', () => {
    const cases: [string, RegExp][] = [
      ['{"version": 1, "room_', /not valid JSON/],
      [JSON.stringify({ ...valid, version: 'three' }), /does not match the manifest schema: version/],
      [JSON.stringify({ ...valid, models: { a: { id: 'a' } } }), /does not match the manifest schema: models\.a\./],
      [JSON.stringify({ ...valid, room_id: 'r2' }), /names room "r2"/],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => parseManifest(text, 'r1', 's3://b/rooms/r1/manifest.json'),
        (e: unknown) => isAppError(e, 'storage_error') && /s3:\/\/b\/rooms\/r1\/manifest\.json is corrupt/.test(e.message) && why.test(e.message) && /left untouched/.test(e.message) && e.details?.corrupt_manifest === true,
        text,
      );
    }
  });

  test('the empty manifest is version 0 with no models', () => {
    assert.deepEqual({ ...emptyManifest('r1'), updated_at: '' }, { version: 0, room_id: 'r1', updated_at: '', models: {}, aliases: {} });
  });
});

describe('room manifest: putModel', () => {
  test('an alias moves to the new model and leaves the old one without it', () => {
    const m = emptyManifest('r');
    putModel(m, makeModel('r', 'a'), 'best');
    putModel(m, makeModel('r', 'b'), 'best');
    assert.equal(m.aliases.best, 'b');
    assert.equal(m.models.a.alias, null);
    assert.equal(m.models.b.alias, 'best');
  });

  test('adding an existing id replaces it and keeps the aliases that name it', () => {
    const m = emptyManifest('r');
    putModel(m, makeModel('r', 'a'), 'best');
    putModel(m, makeModel('r', 'a', { notes: 'retrained' }));
    assert.equal(Object.keys(m.models).length, 1);
    assert.equal(m.models.a.notes, 'retrained');
    assert.equal(m.models.a.alias, 'best');
    assert.equal(m.aliases.best, 'a');
  });

  test('model.alias is used when no alias option is given', () => {
    const m = emptyManifest('r');
    putModel(m, makeModel('r', 'a', { alias: 'latest' }));
    assert.deepEqual(m.aliases, { latest: 'a' });
  });
});

describe('room manifest: updateManifest without a server', () => {
  test('an aborted signal stops it before any request', async () => {
    const s3 = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(updateManifest(s3, 'b', 'r', () => undefined, { signal: ac.signal }), (e: unknown) => isAppError(e, 'aborted'));
    s3.destroy();
  });

  test('maxAttempts must be a positive integer', async () => {
    const s3 = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    await assert.rejects(updateManifest(s3, 'b', 'r', () => undefined, { maxAttempts: 0 }), (e: unknown) => isAppError(e, 'bad_request'));
    s3.destroy();
  });
});
