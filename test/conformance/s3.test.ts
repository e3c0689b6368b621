import { after, before, describe } from 'node:test';
import { forEachS3Target, type S3Target } from '../support/targets.js';
import { makeCheckContext, s3Checks, type CheckContext } from './checks.js';

forEachS3Target((factory) => {
  describe(`S3 conformance: ${factory.name}`, () => {
    let target: S3Target | undefined;
    let ctx: CheckContext | undefined;

    before(async () => {
      target = await factory.start();
      ctx = makeCheckContext(target);
    }, { timeout: 180_000 });

    after(async () => {
      ctx?.s3.destroy();
      await target?.stop();
    }, { timeout: 60_000 });

    s3Checks(() => {
      if (!ctx) throw new Error(`${factory.name} did not start`);
      return ctx;
    });
  });
});
