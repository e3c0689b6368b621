/**
 * The source of a HashWriterPool thread, run with `new Worker(source, { eval: true })` so the
 * bundle needs no second entry point. Plain CommonJS JavaScript: it is never transpiled.
 *
 * Protocol (each message carries the job `id`; a thread serves many jobs, in message order):
 *   in:  {op:'open', id, fd, algs, direct}  start hashing (node:crypto names) and writing to
 *                                    `fd` (opened with O_DIRECT when `direct`)
 *        {op:'write', id, bufs}      hash then write these bytes (their ArrayBuffers transferred)
 *        {op:'finish', id}           fsync, then answer the digests
 *        {op:'abort', id}            forget the job; answered once no write or flush of it is running
 *   out: {op:'ack', id, bytes} | {op:'done', id, digests} | {op:'aborted', id}
 *        {op:'error', id, message, code}  (once per job; later messages of the job are ignored)
 * The thread never opens or closes `fd`: its owner closes it after 'done', 'aborted' or 'error'.
 */
export const HASH_WRITER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { writevSync, writeSync, fsyncSync, ftruncateSync, fdatasync } = require('node:fs');

// Transferred ArrayBuffers are freed only when this isolate collects their wrappers; a young GC
// every few MiB keeps them from piling up (see GcPacer.ts, the same reasoning on the main thread).
let collect = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;
if (!collect) {
  try {
    require('node:v8').setFlagsFromString('--expose-gc');
    collect = require('node:vm').runInNewContext('gc');
  } catch {}
}
const GC_EVERY = 4 * 1024 * 1024;
let sinceGc = 0;

// Early write-back (files opened without O_DIRECT, where the filesystem refused it): every
// FLUSH_EVERY bytes of a job, an fdatasync of its file starts on the libuv pool (this thread goes
// on hashing). Without it the kernel holds the whole part dirty until the final fsync, and a
// 64 MiB part then waits for all of it at the end; with it the disk writes while the body is
// still arriving, and the final fsync only has the last few MiB left. (Node has no
// sync_file_range, which would start write-back without waiting for it.)
const FLUSH_EVERY = 8 * 1024 * 1024;

const jobs = new Map();

// O_DIRECT jobs (open with direct: true): bytes go past the page cache, written from a staging
// buffer at addresses, offsets and lengths that are multiples of BLOCK, as O_DIRECT requires.
// JavaScript cannot align a Buffer, but a WebAssembly.Memory is page-aligned: the stage is a view
// of one. A thread has one stage (its jobs take turns); each job keeps only its last partial
// block for the next write. A body's last block is written padded, then the file cut to size.
const BLOCK = 4096;
const STAGE = 1024 * 1024;
let stage;
function ensureStage() {
  stage = stage || new Uint8Array(new WebAssembly.Memory({ initial: STAGE / 65536 }).buffer);
}
function writeStage(job, len) {
  for (let at = 0; at < len; ) {
    at += writeSync(job.fd, stage, at, len - at, job.pos + at);
    // A short O_DIRECT write that ends off a block boundary cannot go on aligned: say so.
    if (at < len && at % BLOCK !== 0) throw Object.assign(new Error('a direct write stopped off a block boundary (' + at + ' of ' + len + ' bytes)'), { code: 'EIO' });
  }
  job.pos += len;
}
function writeDirect(job, bufs) {
  ensureStage();
  let fill = job.carryLen;
  if (fill > 0) stage.set(job.carry.subarray(0, fill), 0);
  for (const b of bufs) {
    for (let off = 0; off < b.length; ) {
      const n = Math.min(b.length - off, STAGE - fill);
      stage.set(b.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === STAGE) {
        writeStage(job, STAGE);
        fill = 0;
      }
    }
  }
  const whole = fill - (fill % BLOCK);
  if (whole > 0) writeStage(job, whole);
  job.carryLen = fill - whole;
  if (job.carryLen > 0) job.carry.set(stage.subarray(whole, fill), 0);
}
function finishDirect(job) {
  if (job.carryLen === 0) return;
  const size = job.pos + job.carryLen;
  ensureStage();
  stage.set(job.carry.subarray(0, job.carryLen), 0);
  stage.fill(0, job.carryLen, BLOCK);
  writeStage(job, BLOCK);
  ftruncateSync(job.fd, size);
}

function flushDone(id, job, e) {
  job.flushing = false;
  if (e && !job.error) job.error = e;
  if (job.aborted) {
    parentPort.postMessage({ op: 'aborted', id });
    return;
  }
  if (job.error) return fail(id, job.error);
  if (job.finishing) finish(id, job);
}

function startFlush(id, job) {
  job.flushing = true;
  job.sinceFlush = 0;
  fdatasync(job.fd, (e) => flushDone(id, job, e));
}

function finish(id, job) {
  try {
    if (job.direct) finishDirect(job);
    fsyncSync(job.fd);
    jobs.delete(id);
    const digests = {};
    for (const [a, h] of job.hashes) digests[a] = h.digest();
    parentPort.postMessage({ op: 'done', id, digests });
  } catch (e) {
    fail(id, e);
  }
}

// The same short-write loop as FileSink.writeAll (sinks.ts), in sync form: this source is eval'd
// as a worker and cannot import the store's modules.
function writeAll(fd, bufs) {
  let pending = bufs;
  while (pending.length > 0) {
    let n = writevSync(fd, pending);
    const rest = [];
    for (const b of pending) {
      if (n >= b.length) n -= b.length;
      else {
        rest.push(b.subarray(n));
        n = 0;
      }
    }
    pending = rest;
  }
}

function fail(id, e) {
  jobs.delete(id);
  parentPort.postMessage({ op: 'error', id, message: String((e && e.message) || e), code: e && e.code });
}

parentPort.on('message', (m) => {
  if (m.op === 'open') {
    try {
      const job = { fd: m.fd, hashes: m.algs.map((a) => [a, createHash(a)]), sinceFlush: 0, flushing: false, direct: !!m.direct };
      if (job.direct) Object.assign(job, { carry: new Uint8Array(BLOCK), carryLen: 0, pos: 0 });
      jobs.set(m.id, job);
    } catch (e) {
      fail(m.id, e);
    }
    return;
  }
  if (m.op === 'abort') {
    const job = jobs.get(m.id);
    jobs.delete(m.id);
    // A flush still running uses the descriptor: its owner may close it only after that.
    if (job && job.flushing) job.aborted = true;
    else parentPort.postMessage({ op: 'aborted', id: m.id });
    return;
  }
  const job = jobs.get(m.id);
  if (!job || job.error) return; // failed earlier: its error was sent, or will be after the flush
  try {
    if (m.op === 'write') {
      let bytes = 0;
      for (const b of m.bufs) {
        for (const [, h] of job.hashes) h.update(b);
        bytes += b.length;
      }
      if (job.direct) writeDirect(job, m.bufs);
      else writeAll(job.fd, m.bufs);
      parentPort.postMessage({ op: 'ack', id: m.id, bytes });
      job.sinceFlush += bytes;
      // O_DIRECT writes are on the disk already: only page-cache writes need pushing out early.
      if (!job.direct && job.sinceFlush >= FLUSH_EVERY && !job.flushing) startFlush(m.id, job);
      sinceGc += bytes;
      if (collect && sinceGc >= GC_EVERY) {
        sinceGc = 0;
        m.bufs = undefined;
        collect({ type: 'minor' });
      }
    } else if (m.op === 'finish') {
      if (job.flushing) job.finishing = true;
      else finish(m.id, job);
    }
  } catch (e) {
    // The owner closes the descriptor on an error: with a flush running, answer once it ended.
    if (job.flushing) job.error = e;
    else fail(m.id, e);
  }
});
`;
