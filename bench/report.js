'use strict';
// bench/report.js - turns the runs bench/run collected (one JSON line each:
// workload, server, how the server ended, and loadgen's object) into the
// table on stdout, results.json, and results.svg: a bar chart of the ratios
// pusher / peer on a log scale, green where pusher does better.
//
//   node bench/report.js RUNS.jsonl results.json results.svg

const fs = require('node:fs');
const os = require('node:os');

const [runsPath, jsonPath, svgPath] = process.argv.slice(2);
if (!svgPath) {
  console.error('usage: node bench/report.js RUNS.jsonl results.json results.svg');
  process.exit(2);
}

const runs = fs.readFileSync(runsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const PEER = 'ws-peer';

// Near 100%, the load generator, not the server, set the pace: its rate is a
// floor for the server's, and the CPU time per delivery is the figure to read.
const LOADGEN_BUSY = ['load generator CPU, % of phase', (r) => r.loadgen_busy_pct, 'info'];

// Per mode: [label, how to read it from loadgen's object, kind]: 'up' or
// 'down' says which way is better and earns a ratio; 'count' and 'info' are
// shown for context only.
const METRICS = {
  idle: [
    ['handshakes/s', (r) => r.handshakes_per_s, 'up'],
    ['server RSS bytes/conn', (r) => r.rss_per_conn_bytes, 'down'],
    ['server CPU us/conn', (r) => r.server_cpu_us_per_conn, 'down'],
    ['failed connections', (r) => r.failed, 'count'],
    ['server waited for a CPU, % of phase', (r) => r.server_runq_wait_pct, 'info'],
  ],
  fanout: [
    ['deliveries/s', (r) => r.deliveries_per_s, 'up'],
    ['latency p50 ms', (r) => r.lat_us.p50 / 1000, 'down'],
    ['latency p90 ms', (r) => r.lat_us.p90 / 1000, 'down'],
    ['latency p99 ms', (r) => r.lat_us.p99 / 1000, 'down'],
    ['latency max ms', (r) => r.lat_us.max / 1000, 'down'],
    ['server CPU s/M deliveries', (r) => r.server_cpu_s_per_M, 'down'],
    ['undelivered after drain (lost or late)', (r) => r.lost, 'count'],
    ['server waited for a CPU, % of phase', (r) => r.server_runq_wait_pct, 'info'],
    LOADGEN_BUSY,
  ],
  echo: [
    ['round trips/s', (r) => r.round_trips_per_s, 'up'],
    ['latency p50 ms', (r) => r.lat_us.p50 / 1000, 'down'],
    ['latency p99 ms', (r) => r.lat_us.p99 / 1000, 'down'],
    ['server CPU s/M round trips', (r) => r.server_cpu_s_per_M, 'down'],
    ['round trips not back after drain', (r) => r.lost, 'count'],
    ['server waited for a CPU, % of phase', (r) => r.server_runq_wait_pct, 'info'],
    LOADGEN_BUSY,
  ],
};

const workloads = [...new Set(runs.map((r) => r.workload))];
const rows = [];
const problems = [];

for (const run of runs) {
  const r = run.run;
  const what = `${run.workload} / ${run.server}`;
  if (run.server_end !== 'ok') problems.push(`${what}: server ended ${run.server_end}`);
  if (r.mode === 'none') { problems.push(`${what}: ${r.first_error}`); continue; }
  if (r.opened < r.connections) problems.push(`${what}: ${r.connections - r.opened} of ${r.connections} connections failed`);
  if (r.closed > 0) problems.push(`${what}: ${r.closed} connections closed by the server, codes ${JSON.stringify(r.close_codes)}`);
  if (r.lost > 0) problems.push(`${what}: ${r.lost} of ${r.expected} not delivered by the end of the drain (lost, or the server fell behind)`);
  if (r.server_sys_errors > 0) problems.push(`${what}: ${r.server_sys_errors} error notices from the server`);
  if (r.first_error) problems.push(`${what}: first error: ${r.first_error}`);
}

for (const w of workloads) {
  const of = (server) => runs.find((r) => r.workload === w && r.server === server)?.run;
  const peer = of(PEER);
  for (const server of ['pusher', 'pusher-poll']) {
    const mine = of(server);
    if (!mine || !METRICS[mine.mode]) continue;
    for (const [metric, get, better] of METRICS[mine.mode]) {
      const a = get(mine);
      const b = peer && peer.mode === mine.mode ? get(peer) : null;
      const ratio = (better === 'up' || better === 'down') && b ? a / b : null;
      rows.push({ workload: server === 'pusher' ? w : `${w} [poll]`, server, metric, better, pusher: a, peer: b, ratio });
    }
  }
}

// ---------------------------------------------------------------- table

// Counts (metrics without a ratio) print as whole numbers where they are.
function fmt(v, isCount) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (isCount && Number.isInteger(v)) return String(v);
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

const head = ['workload', 'metric', 'pusher', 'peer (ws)', 'pusher/peer'];
const body = rows.map((r) => [r.workload, `${r.metric}${{ up: ' (higher better)', down: ' (lower better)' }[r.better] ?? ''}`,
  fmt(r.pusher, r.better === 'count'), fmt(r.peer, r.better === 'count'), r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`]);
const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
const line = (cells) => cells.map((c, i) => (i >= 2 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ');
console.log(line(head));
console.log(width.map((n) => '-'.repeat(n)).join('  '));
let last = '';
for (const b of body) {
  console.log(line(b[0] === last ? ['', ...b.slice(1)] : b));
  last = b[0];
}
if (problems.length) {
  console.log('\nproblems seen:');
  for (const p of problems) console.log(`  ${p}`);
}

// ---------------------------------------------------------------- results.json

fs.writeFileSync(jsonPath, `${JSON.stringify({
  generated: new Date().toISOString(),
  host: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, kernel: os.release() },
  note: 'ratio = pusher / peer, both measured in the same run; server on core 0, loadgen on core 1',
  rows, problems, runs,
}, null, 2)}\n`);

// ---------------------------------------------------------------- results.svg

const charted = rows.filter((r) => r.ratio > 0);
const ROW = 24, LEFT = 420, PLOT = 420, TOP = 50, W = LEFT + PLOT + 90;
const H = TOP + charted.length * ROW + 40;
const lo = Math.min(0.1, ...charted.map((r) => r.ratio)), hi = Math.max(10, ...charted.map((r) => r.ratio));
const span = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
const x = (v) => LEFT + ((Math.log10(v) - span[0]) / (span[1] - span[0])) * PLOT;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="10" y="20" font-size="15" font-weight="bold">pusher / ws peer, same run (log scale; green: pusher better)</text>`,
];
for (let e = span[0]; e <= span[1]; e++) {
  const v = 10 ** e;
  svg.push(`<line x1="${x(v)}" y1="${TOP - 8}" x2="${x(v)}" y2="${H - 30}" stroke="${e === 0 ? '#333' : '#ddd'}"/>`,
    `<text x="${x(v)}" y="${H - 14}" text-anchor="middle">${v}x</text>`);
}
charted.forEach((r, i) => {
  const y = TOP + i * ROW;
  const good = r.better === 'up' ? r.ratio >= 1 : r.ratio <= 1;
  const x0 = Math.min(x(1), x(r.ratio)), x1 = Math.max(x(1), x(r.ratio));
  svg.push(`<text x="${LEFT - 8}" y="${y + 15}" text-anchor="end">${esc(`${r.workload}: ${r.metric} ${r.better === 'up' ? '↑' : '↓'}`)}</text>`,
    `<rect x="${x0}" y="${y + 4}" width="${Math.max(1, x1 - x0)}" height="${ROW - 8}" fill="${good ? '#3a3' : '#c33'}"/>`,
    `<text x="${x1 + 4}" y="${y + 15}">${r.ratio.toFixed(2)}x</text>`);
});
svg.push('</svg>');
fs.writeFileSync(svgPath, `${svg.join('\n')}\n`);
console.log(`\nwrote ${jsonPath} and ${svgPath}`);
