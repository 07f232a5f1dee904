'use strict';
// Shared machinery of the fault suite, on top of tests/e2e/helpers.js: what
// the kernel says about the server process (/proc: RSS, CPU time, open
// descriptors), a server started under a low descriptor limit, and the check
// that ends every fault test: a well-behaved client is still served promptly.

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');

// The sanitized build is slower and its allocator keeps freed memory in
// quarantine, so memory bounds are only asserted against the plain binary.
const SANITIZED = /asan|sanitiz/.test(path.basename(h.BIN));

// A Group message round trip between two served clients must take less.
const PROMPT_MS = Math.round(500 * h.SCALE);

// Per-test bounds for node:test, scaled like every other wait.
const bound = (ms) => ({ timeout: Math.round(ms * h.SCALE) });

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// VmRSS of pid in KiB.
function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

// User plus system CPU time of pid, in seconds (/proc/PID/stat fields 14, 15).
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

// The share of one core that pid used over the next ms milliseconds.
async function cpuShare(pid, ms) {
  const c0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await h.sleep(ms);
  const c1 = cpuSeconds(pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return (c1 - c0) / wall;
}

// Open descriptors of pid; with below, only those numbered under it (the
// process may have inherited stray ones numbered above its limit).
function fdCount(pid, below = Infinity) {
  return fs.readdirSync(`/proc/${pid}/fd`).filter((n) => Number(n) < below).length;
}

// Samples the server's RSS every `every` ms until stop() is called; stop()
// returns the peak in KiB.
function rssSampler(pid, every = 10) {
  let peak = rssKiB(pid);
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssKiB(pid)); } catch { /* exited */ }
  }, every);
  timer.unref(); // a failed test must not keep the process alive
  return () => {
    clearInterval(timer);
    try { peak = Math.max(peak, rssKiB(pid)); } catch { /* exited */ }
    return peak;
  };
}

// Starts pusher under `ulimit -n nofile` (soft and hard, so it cannot raise
// it), with `extraFds` more descriptors already open on /dev/null, which
// leaves fewer than it plans for and so makes accept() fail with EMFILE.
async function startLimited(t, nofile, args, extraFds = 0) {
  const opens = Array.from({ length: extraFds }, (_, i) => `exec ${i + 3}</dev/null; `).join('');
  const script = `ulimit -n ${nofile} && ${opens}exec "$0" "$@"`;
  const srv = await h.startServer(['-c', script, h.BIN, '--bind', '127.0.0.1', '--port', '0', ...args],
    { bare: true, bin: '/bin/bash' });
  t.after(() => srv.stop());
  const limits = fs.readFileSync(`/proc/${srv.proc.pid}/limits`, 'utf8');
  assert.match(limits, new RegExp(`^Max open files\\s+${nofile}\\s+${nofile}\\s`, 'm'),
    'pusher runs under the descriptor limit it was given');
  return srv;
}

// Opens n WebSocket clients, `batch` at a time; userId(i) names each.
async function connectMany(srv, n, userId, batch = 50) {
  const out = [];
  for (let i = 0; i < n; i += batch) {
    const part = [];
    for (let j = i; j < Math.min(n, i + batch); j++) part.push(h.connect(srv, userId(j), { label: userId(j) }));
    out.push(...await Promise.all(part));
  }
  return out;
}

// A Group message from a reaches b: the time it took, in ms. Both must be
// served by now (a Group goes to every connection but the sender's).
let tripSeq = 0;
async function groupTrip(a, b, timeout = h.WAIT) {
  const tag = `trip:${process.pid}:${++tripSeq}`;
  const t0 = process.hrtime.bigint();
  a.send({ messageType: 1, mediaType: 0, content: tag });
  await b.take((m) => m && m.content === tag, `the Group message ${tag} from ${a.label}`, timeout);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// The end of every fault test: two fresh well-behaved clients connect, and a
// Group message from one reaches the other in under PROMPT_MS. Returns the
// round trip in ms.
let promptSeq = 0;
async function assertPrompt(srv) {
  const n = ++promptSeq;
  const a = await h.connect(srv, `well-behaved-a${n}`);
  const b = await h.connect(srv, `well-behaved-b${n}`);
  await h.settle(a, b);
  const ms = await groupTrip(a, b);
  assert.ok(ms < PROMPT_MS, `a Group round trip took ${ms.toFixed(1)} ms (bound ${PROMPT_MS} ms)`);
  await a.close();
  await b.close();
  return ms;
}

const mib = (kib) => (kib / 1024).toFixed(1);

module.exports = {
  SANITIZED, PROMPT_MS, bound, rssKiB, cpuSeconds, cpuShare, fdCount, rssSampler,
  startLimited, connectMany, groupTrip, assertPrompt, mib,
};
