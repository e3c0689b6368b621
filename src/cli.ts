import { Command, Option } from 'commander';
import { AppError } from './core/errors.js';
import { VERSION } from './core/version.js';

/**
 * `sleap-rtc <command>`: one CLI for every process. Each subcommand's options map 1:1 to keys
 * of that process's config schema (flags > SLEAP_RTC_* environment > --config JSON file).
 */
const program = new Command();
program
  .name('sleap-rtc')
  .description('Remote training for SLEAP: resumable S3 transfers for data, WebRTC for live progress.')
  .version(VERSION)
  .showHelpAfterError();

const commonOptions = (cmd: Command): Command =>
  cmd
    .option('--config <file>', 'JSON config file (keys as the long flags in camelCase)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']));

commonOptions(
  program
    .command('store')
    .description('run the embedded S3-compatible object store (the default storage on one machine)')
    .option('--port <n>', 'TCP port; 0 picks a free one (default 9000)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1)')
    .option('--data <dir>', 'folder that holds the buckets (default <data folder>/store)')
    .option('--access-key <key>', 'access key id clients sign with')
    .option('--secret-key <secret>', 'secret access key clients sign with')
    .option('--region <region>', 'region clients sign for (default us-east-1)')
    .option('--buckets <names>', 'comma-separated buckets to create at start'),
).action(async (opts: Record<string, unknown>) => {
  const { runStore } = await import('./store/main.js');
  await runStore(opts);
});

commonOptions(
  program
    .command('server')
    .description('run the server: the backend (presigned URLs for S3 multipart transfers, /api/*) and signaling (WebSocket rooms at /ws)')
    .option('--port <n>', 'TCP port; 0 picks a free one (default 8080)')
    .option('--host <addr>', 'address to bind (default 127.0.0.1)')
    .option('--s3-endpoint <url>', 'S3 endpoint (omit for AWS S3)')
    .option('--s3-region <region>', 'S3 region (default us-east-1)')
    .option('--s3-access-key <key>', 'S3 access key id')
    .option('--s3-secret-key <secret>', 'S3 secret access key')
    .option('--bucket <name>', 'bucket that holds the rooms (default sleap-rtc)')
    .option('--rooms <list>', 'room tokens as room_id=token,room_id=token')
    .option('--rooms-file <file>', 'JSON file {"<room_id>": "<token>", ...}')
    .option('--s3-public-endpoint <url>', 'S3 endpoint written into presigned URLs, when clients reach S3 by another address')
    .option('--url-ttl <seconds>', 'lifetime of presigned URLs (default 3600)')
    .option('--part-size <bytes>', 'default multipart part size (default 104857600, 100 MiB)')
    .option('--create-bucket', 'create the bucket at start when it is missing')
    .option('--ping-interval <seconds>', 'signaling: seconds between server pings (default 30)')
    .option('--peer-timeout <seconds>', 'signaling: silence after which a peer is dropped and its room told peer_left (default twice the ping interval)')
    .option('--allowed-origins <list>', 'signaling: browser origins allowed to open the WebSocket, comma-separated (default none)'),
).action(async (opts: Record<string, unknown>) => {
  const { runServer } = await import('./server/main.js');
  await runServer(opts);
});

commonOptions(
  program
    .command('stack')
    .description('run the whole system on this machine: embedded store, server, a builtin-trainer worker and the agent on 127.0.0.1, one data folder; writes <data>/stack.json')
    .option('--data <dir>', 'data folder (default $SLEAP_RTC_DATA, else ~/.local/share/sleap-rtc on Linux, ~/Library/Application Support/sleap-rtc on macOS, %LOCALAPPDATA%\\sleap-rtc on Windows)')
    .option('--store-port <n>', 'store port; 0 picks a free one (default 9000)')
    .option('--server-port <n>', 'server port; 0 picks a free one (default 8080)')
    .option('--agent-port <n>', 'agent port; 0 picks a free one (default 8765)')
    .option('--no-agent', 'run store, server and worker without the agent (the VS Code extension starts and supervises its own)')
    .option('--bucket <name>', 'bucket (default sleap-rtc)')
    .option('--room <id>', 'room id created on first start (default lab)'),
).action(async (opts: Record<string, unknown>) => {
  const { runStack } = await import('./stack.js');
  await runStack(opts);
});

/** A live lock (another agent or upload on this data folder) exits 2, like a usage error. */
const lockExit = (e: unknown): never => {
  if (e instanceof AppError && e.code === 'conflict' && e.details?.lock) {
    process.stderr.write(`sleap-rtc: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
};

const uploadClientOptions = (cmd: Command): Command =>
  cmd
    .option('--data <dir>', 'data folder; the ledger and lock live in <data>/agent (default $SLEAP_RTC_DATA, else ~/.local/share/sleap-rtc on Linux, ~/Library/Application Support/sleap-rtc on macOS, %LOCALAPPDATA%\\sleap-rtc on Windows)')
    .option('--server <url>', 'backend URL, e.g. http://127.0.0.1:8080 (or SLEAP_RTC_SERVER)')
    .option('--room-token <token>', 'room token (better: env SLEAP_RTC_ROOM_TOKEN)')
    .option('--stack-secrets <file>', "the stack's stack-secrets.json, to take the room token from")
    .option('--concurrency <n>', "parts in flight at once: a number fixes it; default auto (grows while throughput rises, up to 32 and 256 MiB of parts; backs off on SlowDown, 5xx and stalls)")
    .option('--part-size <bytes>', 'multipart part size (default 8388608, 8 MiB)')
    .option('--outage-limit <seconds>', 'how long a transfer waits for S3 or the backend when it does not answer before it fails (default 3600)');

commonOptions(
  uploadClientOptions(
    program
      .command('agent')
      .description('run the local agent: token-protected HTTP API on 127.0.0.1 for uploads, watched folders, training jobs, workers, models and events')
      .option('--port <n>', 'TCP port on 127.0.0.1; 0 picks a free one (default 8765)')
      .option('--allowed-origins <list>', 'browser origins allowed to call the API, comma-separated (default none)')
      .option('--allowed-roots <list>', 'folders the API may upload from, watch and download models into, comma-separated (default anywhere)')
      .option('--watch-stability <seconds>', 'how long a watched file must stay unchanged before it is uploaded (default 1)')
      .option('--room <id>', "the room whose workers train (default: the stack secrets' room)")
      .option('--ice-servers <json>', 'ICE servers as JSON (default none)')
      .option('--loopback-only <bool>', 'gather only 127.0.0.1 ICE candidates (default true)')
      .option('--link-dead-after <seconds>', "DataChannel silence after which a worker's link is dead (default 5)"),
  ),
).action(async (opts: Record<string, unknown>) => {
  const { runAgent } = await import('./agent/main.js');
  await runAgent(opts).catch(lockExit);
});

commonOptions(
  uploadClientOptions(
    program
      .command('upload')
      .description('upload a dataset (.slp, .pkg.slp, .zip or a folder) with progress; run it again after an interruption to resume')
      .argument('<path>', 'the dataset to upload')
      .option('--json', 'print one JSON object {upload_id, key, bucket, size, sha256} on stdout at the end'),
  ),
).action(async (path: string, opts: Record<string, unknown>) => {
  const { runUpload } = await import('./agent/uploadCommand.js');
  await runUpload(path, opts).catch(lockExit);
});

/** Options of the commands that are clients of the local agent (train, download). */
const agentClientOptions = (cmd: Command, jsonOut: string): Command =>
  cmd
    .option('--agent <url>', "the local agent (default: the data folder's running agent, from <data>/agent/agent.json)")
    .option('--data <dir>', 'data folder whose agent is used (default $SLEAP_RTC_DATA, else ~/.local/share/sleap-rtc on Linux, ~/Library/Application Support/sleap-rtc on macOS, %LOCALAPPDATA%\\sleap-rtc on Windows)')
    .option('--json', `print one JSON object ${jsonOut} on stdout at the end`)
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']));

// Not commonOptions: the documented contract (README) is `sleap-rtc train <dataset> [--config file]`, where
// --config is the training config (sleap-nn's YAML or JSON), not a file of flags.
agentClientOptions(
  program
    .command('train')
    .description('train a model: upload the dataset through the local agent, submit the job, draw the live loss curve, print where the model is')
    .argument('<dataset>', 'a .slp / .pkg.slp file, or an s3:// path already in the room')
    .option('--config <file>', 'training config, YAML (as sleap-nn) or JSON: data_config, model_config, trainer_config')
    .addOption(new Option('--trainer <kind>', 'trainer the worker must have (default builtin)').choices(['builtin', 'sleap-nn', 'command']))
    .option('--max-epochs <n>', 'sets trainer_config.max_epochs')
    .option('--worker <id>', 'the worker to use (default: the first free one)'),
  '{job_id, status, model_id, s3_path, metrics}',
).action(async (dataset: string, opts: Record<string, unknown>) => {
    const { runTrain } = await import('./agent/trainCommand.js');
    const { config, ...rest } = opts;
    await runTrain(dataset, { ...rest, trainingConfig: config });
  });

agentClientOptions(
  program
    .command('download')
    .description("download a room's model (by id or alias) through the local agent into <dest>/<model id>/, SHA-256 verified")
    .argument('<model>', 'model id or alias (GET /api/models lists them)')
    .option('--dest <dir>', 'folder to download into (default the current folder)'),
  '{model_id, dest, files}',
).action(async (model: string, opts: Record<string, unknown>) => {
    const { runDownload } = await import('./agent/trainCommand.js');
    await runDownload(model, opts);
  });

// Not uploadClientOptions: the doctor sends no parts (no --concurrency / --part-size), and finds
// the server and room token of the data folder's stack itself when they are not given.
commonOptions(
  program
    .command('doctor')
    .description('check the setup in order, one line each with the fix for what fails: agent, server and room token, S3 (presigned PUT and GET), signaling, WebRTC to a worker, free disk; exit 0 when all pass')
    .option('--data <dir>', 'data folder whose agent, stack and disk are checked (default $SLEAP_RTC_DATA, else ~/.local/share/sleap-rtc on Linux, ~/Library/Application Support/sleap-rtc on macOS, %LOCALAPPDATA%\\sleap-rtc on Windows)')
    .option('--server <url>', "backend URL, e.g. http://127.0.0.1:8080 (or SLEAP_RTC_SERVER; default: the data folder's running stack)")
    .option('--room-token <token>', 'room token (better: env SLEAP_RTC_ROOM_TOKEN)')
    .option('--stack-secrets <file>', "the stack's stack-secrets.json, to take the room and its token from (default <data>/stack-secrets.json when it exists)")
    .option('--room <id>', "the room whose workers are checked (default: the stack secrets' room)")
    .option('--ice-servers <json>', "ICE servers as JSON, as the agent's (default none)")
    .option('--loopback-only <bool>', 'gather only 127.0.0.1 ICE candidates, as the agent (default true)')
    .option('--json', 'print one JSON object {ok, checks: [{name, ok, status, detail, fix?, ms?}]} on stdout instead of the lines'),
).action(async (opts: Record<string, unknown>) => {
  const { runDoctor } = await import('./agent/doctor/command.js');
  process.exitCode = await runDoctor(opts);
});

commonOptions(
  program
    .command('worker')
    .description('run a training worker: takes jobs from its room over signaling, streams progress over WebRTC, uploads models to S3')
    .option('--server <url>', 'the server (http://host:port; signaling at ws://host:port/ws)')
    .option('--room <id>', 'room to serve (room token by SLEAP_RTC_ROOM_TOKEN)')
    .option('--stack-secrets <file>', 'a `sleap-rtc stack` secrets file: room, room token and store keys')
    .option('--s3-endpoint <url>', 'S3 endpoint (omit for AWS S3); keys by SLEAP_RTC_S3_ACCESS_KEY / SLEAP_RTC_S3_SECRET_KEY')
    .option('--s3-region <region>', 'S3 region (default us-east-1)')
    .option('--bucket <name>', 'bucket that holds the rooms (default sleap-rtc)')
    .addOption(new Option('--trainer <kind>', 'trainer (default builtin)').choices(['builtin', 'sleap-nn', 'command']))
    .option('--sleap-nn-command <json>', 'sleap-nn trainer: argv prefix as a JSON array (default ["sleap-nn"])')
    .option('--trainer-command <json>', 'command trainer: argv as a JSON array with {dataset} {outDir} {config} {jobId}')
    .option('--max-jobs <n>', 'jobs run at once (default 1)')
    .option('--queue <n>', 'jobs that wait for a free slot, round-robin between clients (default 16; 0: refuse when busy)')
    .option('--peer-id <id>', 'peer id (default worker-<hostname>-<random>, kept in the data folder)')
    .option('--data <dir>', 'worker folder: peer id, dataset cache, job folders (default <data folder>/worker)')
    .option('--ice-servers <json>', 'ICE servers as JSON (default none)')
    .option('--loopback-only <bool>', 'gather only 127.0.0.1 ICE candidates (default true)')
    .option('--link-dead-after <seconds>', 'DataChannel silence after which a client link is dead (default 10)'),
).action(async (opts: Record<string, unknown>) => {
  const { runWorker } = await import('./worker/main.js');
  await runWorker(opts);
});

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof AppError && e.code === 'port_in_use') {
    // The flag that moves this service: in a stack each has its own, alone it is --port.
    const service = String(e.details?.service ?? '');
    const flag = process.argv[2] === 'stack' ? `--${service}-port` : '--port';
    process.stderr.write(`sleap-rtc: ${e.message}; stop that process, or choose another port with ${flag} <n> (0 picks a free one)\n`);
    process.exit(1);
  }
  if (e instanceof AppError) {
    process.stderr.write(`sleap-rtc: ${e.message}\n`);
    process.exit(e.code === 'config_invalid' || e.code === 'bad_request' ? 2 : 1);
  }
  process.stderr.write(`sleap-rtc: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
