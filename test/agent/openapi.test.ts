// /openapi.json is a valid OpenAPI 3.1 document (checked by @seriousme/openapi-schema-validator,
// which holds the official JSON schemas) and lists every route the agent serves: the test walks
// the express router of a real agent (started in-process against a real server) and fails on a
// route the document lacks, or a documented one nobody serves.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startAgent, type RunningAgent } from '../../src/agent/main.js';
import { agentConfigSchema } from '../../src/agent/config.js';
import { createLogger } from '../../src/core/log.js';
import { startEmbeddedStore } from '../support/store.js';
import { startAgentTestEnv, type AgentTestEnv } from './support/env.js';

/** What express 5's router (the `router` package, 2.x) keeps per layer, as far as the walk reads it. */
interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string | string[];
}

/** "GET /api/jobs/{id}" for every route of a router and the routers mounted in it. */
function routesOf(stack: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const path of [layer.route.path].flat()) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${(prefix + path).replace(/:(\w+)/g, '{$1}')}`);
      }
    } else if (layer.handle.stack) {
      assert.equal(typeof layer.rawPath, 'string', 'a router mounted on one path');
      const mount = layer.rawPath === '/' ? '' : (layer.rawPath as string);
      out.push(...routesOf(layer.handle.stack, prefix + mount));
    }
  }
  return out;
}

describe('the OpenAPI document', () => {
  let env: AgentTestEnv;
  let agent: RunningAgent;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test walks the document's deep paths; a missing one fails it with a TypeError
  let doc: any;
  before(async () => {
    env = await startAgentTestEnv(await startEmbeddedStore());
    const cfg = agentConfigSchema.parse({ server: env.server.url, roomToken: env.server.rooms.lab, room: 'lab', port: 0 });
    agent = await startAgent({ ...cfg, data: join(env.dir, 'data') }, createLogger('agent', {}, () => undefined));
    doc = await (await fetch(`${agent.url}/openapi.json`)).json();
  });
  after(async () => {
    await agent?.close();
    await env?.stop();
    await env?.target.stop();
  });

  test('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const v = new Validator();
    const r = await v.validate(doc);
    assert.equal(r.valid, true, JSON.stringify(r.errors, null, 2));
    assert.equal(v.version, '3.1');
    assert.equal(doc.servers[0].url, agent.url, 'the server as the client called it');
  });

  test("lists every route of the agent's router, and only those", () => {
    const served = new Set(routesOf((agent.app as unknown as { router: { stack: Layer[] } }).router.stack));
    assert.ok(served.size > 15, `the walk found the routes (${[...served].join(', ')})`);
    const documented = new Set(Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));
    assert.deepEqual([...served].filter((r) => !documented.has(r)), [], 'served but not in /openapi.json');
    assert.deepEqual([...documented].filter((r) => !served.has(r)), [], 'in /openapi.json but not served');
  });

  test('every operation has its responses and the error shape; request bodies are strict; only /health, /openapi.json and /docs go without the token', () => {
    const open: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { schema: { additionalProperties?: unknown } }> }; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>)) {
      for (const [method, op] of Object.entries(item)) {
        const what = `${method.toUpperCase()} ${path}`;
        if (op.security?.length === 0) open.push(path);
        assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${what}: a success response`);
        const forbidden = op.responses['403']?.content?.['application/json']?.schema as { properties?: { error?: unknown } } | undefined;
        assert.ok(forbidden?.properties?.error, `${what}: the error shape {error: {code, message}} for 403`);
        if (path.startsWith('/api/')) for (const s of ['400', '401', '404', '405']) assert.ok(op.responses[s], `${what}: ${s}`);
        if (op.requestBody) {
          assert.equal(op.requestBody.content['application/json'].schema.additionalProperties, false, `${what}: unknown fields refused`);
          for (const s of ['413', '415']) assert.ok(op.responses[s], `${what}: ${s}`);
        }
      }
    }
    assert.deepEqual([...new Set(open)].sort(), ['/docs', '/docs/{file}', '/health', '/openapi.json']);
    assert.deepEqual(doc.security, [{ bearer: [] }]);
  });
});
