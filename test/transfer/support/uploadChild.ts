// A separate process that uploads a file through the backend and records its progress the way
// the agent's ledger will: the session once it exists, then one JSON line per finished part.
// The crash-resume test kills it with SIGKILL mid-upload. Input: argv[2] is a JSON object.
import { appendFileSync, writeFileSync } from 'node:fs';
import { BackendClient } from '../../../src/core/transfer/BackendClient.js';
import { uploadFile } from '../../../src/core/transfer/uploadFile.js';

const o = JSON.parse(process.argv[2]) as { serverUrl: string; token: string; path: string; ledger: string; concurrency: number };
await uploadFile({
  path: o.path,
  target: { kind: 'presigned', backend: new BackendClient({ baseUrl: o.serverUrl, token: o.token }) },
  concurrency: o.concurrency,
  onSession: (s) => writeFileSync(`${o.ledger}.session.json`, JSON.stringify(s)),
  onPartDone: (p) => appendFileSync(o.ledger, JSON.stringify(p) + '\n'),
});
process.stdout.write('uploaded\n');
