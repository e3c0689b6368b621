import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { awsEnv, PYTHON, run, S3CMD, writeS3cmdConfig } from '../../store/clientTools.js';
import { CHECK, expectS3Error, newBucket, type CheckContext, type GetCtx } from './helpers.js';

/**
 * Which signatures a server takes. AWS refuses a SigV4 signature made for another region
 * (400 AuthorizationHeaderMalformed, the right region in <Region>, which boto3 and s3cmd follow)
 * and, outside its oldest regions, Signature Version 2, which boto3's generate_presigned_url and
 * s3cmd signurl still make by default. boto3 (Debian's python3-boto3) and s3cmd are the peers.
 */

const OTHER_REGION = 'eu-west-1';

function otherRegionClient(ctx: CheckContext): S3Client {
  const t = ctx.target;
  return new S3Client({ endpoint: t.endpoint, region: OTHER_REGION, forcePathStyle: true, credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 });
}

async function seeded(ctx: CheckContext, prefix: string): Promise<string> {
  const bucket = await newBucket(ctx, prefix);
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'signed body' }));
  return bucket;
}

/** Runs a python3 + boto3 script with the target's keys; its stdout is one JSON document. */
async function boto3<T>(ctx: CheckContext, script: string, ...args: string[]): Promise<T> {
  assert.ok(existsSync(PYTHON), 'run `bash scripts/ci-install.sh` (as root) to install python3-boto3');
  const out = await run(PYTHON, ['-c', script, ctx.target.endpoint, ...args], { env: awsEnv(ctx.target) });
  return JSON.parse(out.stdout) as T;
}

const FETCH_PY = `
import json, urllib.request, urllib.error
def fetch(url):
    try:
        return {'status': 200, 'body': urllib.request.urlopen(url).read().decode()}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'body': e.read().decode()}
`;

interface Fetched {
  status: number;
  body: string;
}

function errorMessage(xml: string): string {
  return (/<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? '').replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

export function signatureChecks(getCtx: GetCtx): void {
  test(`signature: SigV4 signed for another region: 400 AuthorizationHeaderMalformed naming the right one in <Region>; presigned: AuthorizationQueryParametersError (RGW: accepted)`, CHECK, async (t) => {
    const ctx = getCtx();
    const bucket = await seeded(ctx, 'sig-region');
    const other = otherRegionClient(ctx);
    try {
      const list = () => other.send(new ListObjectsV2Command({ Bucket: bucket }));
      const url = await getSignedUrl(other, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 60 });
      const res = await fetch(url);
      const text = await res.text();
      if (!ctx.local.enforcesRegion) {
        assert.equal((await list()).$metadata.httpStatusCode, 200, `${ctx.target.name} now refuses another region: set localQuirks.enforcesRegion`);
        assert.equal(res.status, 200, text);
        return t.diagnostic(`${ctx.target.name} accepts a signature for ${OTHER_REGION}, as known`);
      }
      const e = await expectS3Error(list(), { codes: ['AuthorizationHeaderMalformed'], statuses: [400] }, `a request signed for ${OTHER_REGION}`);
      assert.match(e.message, new RegExp(`^The authorization header is malformed; the region '${OTHER_REGION}' is wrong; expecting '${ctx.target.region}'`));
      assert.equal((e as unknown as { Region?: string }).Region, ctx.target.region, 'the error names the right region in <Region>');
      assert.equal(res.status, 400, text);
      assert.match(text, /<Code>AuthorizationQueryParametersError<\/Code>/);
      assert.match(errorMessage(text), new RegExp(`the region '${OTHER_REGION}' is wrong; expecting '${ctx.target.region}'`));
      assert.match(text, new RegExp(`<Region>${ctx.target.region}</Region>`));
    } finally {
      other.destroy();
    }
  });

  test('signature: boto3 configured for another region still gets the object (it re-signs for the <Region> the error names)', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx, 'sig-boto-region');
    const r = await boto3<{ body: string }>(
      ctx,
      `
import sys, json, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[3], config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4', retries={'max_attempts': 1}))
print(json.dumps({'body': s3.get_object(Bucket=sys.argv[2], Key='k')['Body'].read().decode()}))
`,
      bucket,
      OTHER_REGION,
    );
    assert.equal(r.body, 'signed body');
  });

  test('signature: Signature Version 2 presigned URLs (boto3\'s default, s3cmd signurl): 400 InvalidRequest saying how to presign with SigV4 (RGW: served); boto3 with s3v4 is served', { timeout: 60_000 }, async (t) => {
    const ctx = getCtx();
    const bucket = await seeded(ctx, 'sig-v2');
    const r = await boto3<{ v2url: string; v2: Fetched; v4: Fetched }>(
      ctx,
      `${FETCH_PY}
import sys, boto3
from botocore.config import Config
ep, bucket = sys.argv[1], sys.argv[2]
default = boto3.client('s3', endpoint_url=ep)
v4 = boto3.client('s3', endpoint_url=ep, config=Config(signature_version='s3v4'))
v2url = default.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'k'}, ExpiresIn=60)
v4url = v4.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'k'}, ExpiresIn=60)
print(json.dumps({'v2url': v2url, 'v2': fetch(v2url), 'v4': fetch(v4url)}))
`,
      bucket,
    );
    assert.match(r.v2url, /[?&]AWSAccessKeyId=.*[?&]Signature=/, 'boto3 no longer presigns with SigV2 by default; this check is moot');
    assert.deepEqual(r.v4, { status: 200, body: 'signed body' }, 'a SigV4 URL from boto3');
    assert.ok(existsSync(S3CMD), 'run `bash scripts/ci-install.sh` (as root) to install s3cmd');
    const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-sigv2-'));
    let signurl: string;
    try {
      const cfg = await writeS3cmdConfig(ctx.target, join(dir, 's3cfg'));
      signurl = (await run(S3CMD, ['-c', cfg, 'signurl', `s3://${bucket}/k`, '+60'], { env: awsEnv(ctx.target) })).stdout.trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.match(signurl, /[?&]AWSAccessKeyId=.*[?&]Signature=/, 's3cmd signurl no longer makes SigV2 URLs; this check is moot');
    const viaS3cmd = await fetch(signurl);
    const s3cmdText = await viaS3cmd.text();
    if (ctx.local.acceptsSigV2) {
      assert.deepEqual(r.v2, { status: 200, body: 'signed body' }, `${ctx.target.name} now refuses SigV2: set localQuirks.acceptsSigV2`);
      assert.deepEqual([viaS3cmd.status, s3cmdText], [200, 'signed body']);
      return t.diagnostic(`${ctx.target.name} serves SigV2 presigned URLs, as known`);
    }
    for (const [who, res] of [['boto3', r.v2], ['s3cmd signurl', { status: viaS3cmd.status, body: s3cmdText }]] as const) {
      assert.equal(res.status, 400, `${who}: ${res.body}`);
      assert.match(res.body, /<Code>InvalidRequest<\/Code>/, who);
      const message = errorMessage(res.body);
      assert.match(message, /^The authorization mechanism you have provided is not supported\. Please use AWS4-HMAC-SHA256\./, `${who}: AWS's words first`);
      assert.match(message, /Signature Version 2/, `${who}: says what is wrong`);
      assert.match(message, /signature_version='s3v4'/, `${who}: says how boto3 presigns with SigV4`);
      assert.match(message, /s3cmd signurl/, `${who}: says what to use instead of s3cmd signurl`);
    }
  });

  test('signature: s3cmd --signature-v2 (header-signed SigV2) lists the bucket: served, or re-sent with SigV4 on AWS\'s "Please use AWS4-HMAC-SHA256"', CHECK, async () => {
    const ctx = getCtx();
    const bucket = await seeded(ctx, 'sig-v2hdr');
    assert.ok(existsSync(S3CMD), 'run `bash scripts/ci-install.sh` (as root) to install s3cmd');
    const dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-sigv2-'));
    try {
      const cfg = await writeS3cmdConfig(ctx.target, join(dir, 's3cfg'));
      const out = await run(S3CMD, ['-c', cfg, '--signature-v2', 'ls', `s3://${bucket}`], { env: awsEnv(ctx.target) });
      assert.match(out.stdout, new RegExp(`s3://${bucket}/k\\n`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
