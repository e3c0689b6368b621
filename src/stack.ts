import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadCommandConfig, portSchema } from './core/config.js';
import { createLogger } from './core/log.js';
import { dataHome } from './core/paths.js';
import { warnIfDataFolderExposed } from './core/dataPrivacy.js';
import { runUntilSignal, type Service } from './core/service.js';
import { readStackSecrets, type StackSecrets } from './core/stackSecrets.js';
import { removeStackInfo, writeStackInfo } from './core/stackInfo.js';
import { agentConfigSchema } from './agent/config.js';
import { startAgent } from './agent/main.js';
import { serverConfigSchema } from './server/config.js';
import { startServer } from './server/main.js';
import { startStore } from './store/main.js';
import { workerConfigSchema } from './worker/config.js';
import { startWorker } from './worker/main.js';

/**
 * `sleap-rtc stack` (what `npm start` runs): every part on loopback with one data folder.
 * The embedded store, the server (backend + signaling), one builtin-trainer worker and the local
 * agent (the extension's and notebooks' API), unless --no-agent: then a client that supervises
 * its own agent (the VS Code extension) starts one against this stack's server.
 * Credentials and the room token are generated once and kept in `<data>/stack-secrets.json`
 * (mode 0600); where the parts listen is in `<data>/stack.json` while the stack runs.
 */
export const stackConfigSchema = z.object({
  data: z.string().min(1).optional(),
  storePort: portSchema.default(9000),
  serverPort: portSchema.default(8080),
  agentPort: portSchema.default(8765),
  bucket: z.string().default('sleap-rtc'),
  room: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('lab'),
  /** Run the agent too (commander's --no-agent gives false; SLEAP_RTC_AGENT=false from the environment). */
  agent: z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]).default(true),
});


/** Reads the stack's secrets, creating them on first use (atomically, readable only by the owner: mode 0600, on Windows the profile folder's ACL, see core/dataPrivacy.ts). */
export function stackSecrets(dir: string, room: string): { file: string; secrets: StackSecrets } {
  const file = join(dir, 'stack-secrets.json');
  try {
    return { file, secrets: readStackSecrets(file) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const secrets: StackSecrets = { access_key: `sr${randomBytes(9).toString('hex')}`, secret_key: randomBytes(30).toString('base64url'), room_id: room, room_token: randomBytes(24).toString('base64url') };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
  return { file, secrets };
}

export async function runStack(flags: Record<string, unknown>): Promise<void> {
  const cfg = loadCommandConfig(stackConfigSchema, flags);
  const dir = dataHome(cfg.data, process.env);
  const log = createLogger('stack', { data: dir });
  warnIfDataFolderExposed(dir, log);
  const { file, secrets } = stackSecrets(dir, cfg.room);

  const parts: Service[] = [];
  const closeAll: Service = {
    async close() {
      for (const p of parts.reverse()) await p.close();
    },
  };
  try {
    const store = await startStore({ dataDir: join(dir, 'store'), accessKeyId: secrets.access_key, secretAccessKey: secrets.secret_key, port: cfg.storePort, buckets: [cfg.bucket], log: createLogger('store') });
    parts.push(store);
    process.stdout.write(`store listening on ${store.url}\n`);
    const server = await startServer(
      serverConfigSchema.parse({ port: cfg.serverPort, s3Endpoint: store.url, s3AccessKey: secrets.access_key, s3SecretKey: secrets.secret_key, bucket: cfg.bucket, rooms: { [secrets.room_id]: secrets.room_token }, createBucket: true }),
      createLogger('server'),
    );
    parts.push(server);
    process.stdout.write(`server listening on ${server.url}\n`);
    const worker = await startWorker(
      workerConfigSchema.parse({ server: server.url, stackSecrets: file, s3Endpoint: store.url, bucket: cfg.bucket, data: join(dir, 'worker'), trainer: 'builtin' }),
      createLogger('worker'),
      process.env,
    );
    parts.push({ close: () => worker.close() });
    process.stdout.write(`worker ${worker.peerId} registered in room ${worker.room}\n`);
    if (cfg.agent) {
      const agent = await startAgent({ ...agentConfigSchema.parse({ server: server.url, stackSecrets: file, port: cfg.agentPort }), data: dir }, createLogger('agent'));
      parts.push(agent);
      process.stdout.write(`agent listening on ${agent.url} (token in ${agent.tokenFile})\n`);
    } else {
      process.stdout.write(`agent not started (--no-agent): start one with \`sleap-rtc agent --data ${dir} --server ${server.url} --stack-secrets ${file}\`\n`);
    }
    // Closed first (parts close in reverse): no tool should find a stack that is going away.
    writeStackInfo(dir, { server_url: server.url, store_url: store.url, room: secrets.room_id });
    parts.push({ close: async () => removeStackInfo(dir) });
    process.stdout.write(`room ${secrets.room_id}: token and store keys in ${file}\n`);
    process.stdout.write(`stack ready (data folder ${dir})\n`);
  } catch (e) {
    await closeAll.close();
    throw e;
  }
  await runUntilSignal(closeAll, log);
}
