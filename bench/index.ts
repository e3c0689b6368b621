// Benchmarks: `npm run bench -- <name> [flags]`. Each subcommand is a module with `main(args)`.
// `npm run bench` alone (or `npm run bench -- all [flags]`) runs them all and writes
// bench/results/latest.md (bench/all.ts).
// Benchmarks print measurements; they assert nothing about time (tests never do either).

const commands: Record<string, { about: string; run(args: string[]): Promise<number> }> = {
  all: {
    about: 'every benchmark below in one run, then bench/results/latest.md (the default with no argument; --only a,b --skip a,b)',
    run: async (args) => (await import('./all.js')).main(args),
  },
  store: {
    about: 'multipart upload by presigned URLs to the embedded store and to Ceph RGW (throughput, server RSS, client CPU)',
    run: async (args) => (await import('./store.js')).main(args),
  },
  upload: {
    about: 'one file to one S3 server by this engine, aws cli, rclone and boto3 (MiB/s, peak RSS, CPU seconds)',
    run: async (args) => (await import('./upload.js')).main(args),
  },
  wan: {
    about: 'adaptive concurrency vs fixed (engine 4 and 10, aws cli, rclone, boto3) through the emulated WAN (test/support/wan) and on loopback (MiB/s, ratio to the best other tool)',
    run: async (args) => (await import('./wan.js')).main(args),
  },
  seed: {
    about: "the seed design's comparison on the emulated WAN: chunked-rtc (one DataChannel, no checkpoint) vs S3 multipart at concurrency 1/4/10, clean, one drop at 60 %, resets; success rate under random drops",
    run: async (args) => (await import('./seed.js')).main(args),
  },
  soak: {
    about: 'many big uploads at once through the agent under random S3 faults for a bounded time: all complete, checksums equal, the agent RSS over time',
    run: async (args) => (await import('./soak.js')).main(args),
  },
  extension: {
    about: 'the VS Code extension in a real VS Code against a real stack: activation, worker event -> pixel in the monitor, redraw with 1M points, .vsix size',
    run: async (args) => (await import('./extension.js')).main(args),
  },
  ledger: {
    about: "the agent's upload ledger at 2,000 part records/s: share of wall time spent writing and recording, number of writes",
    run: async (args) => (await import('./ledger.js')).main(args),
  },
  jobs: {
    about: 'jobs through the agent: submit -> first progress, event latency, killed worker, signaling restart (store, server, worker, agent processes)',
    run: async (args) => (await import('./jobs.js')).main(args),
  },
  python: {
    about: "the Python client (clients/python) against a real stack: import time, worker event -> job.events() (p50/p99), beside a Node reader of the same SSE stream",
    run: async (args) => (await import('./python.js')).main(args),
  },
};

function usage(): string {
  return ['usage: npm run bench -- <command> [flags]', '', ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.about}`)].join('\n');
}

const argv = process.argv.slice(2);
// No name (or flags only): all of them.
const [name, ...args] = argv.length === 0 || (argv[0]!.startsWith('--') && argv[0] !== '--help') ? ['all', ...argv] : argv;
const command = name === undefined ? undefined : commands[name];
if (!command) {
  console.error(name === '--help' ? usage() : `unknown benchmark "${name}"\n\n${usage()}`);
  process.exit(name === '--help' ? 0 : 2);
}
try {
  process.exitCode = await command.run(args);
} catch (e) {
  console.error(`bench ${name} failed:`, e);
  process.exitCode = 1;
}
