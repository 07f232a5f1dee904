'use strict';
// bench/report.js - turns the runs bench/run collected (one JSON line each:
// workload, server, round, how the server ended, and loadgen's object) into
// the table on stdout, results.json, and results.svg: bars of the ratios
// pusher / bun-peer and pusher / ws-peer on a log scale, green where pusher
// does better. Where a workload ran in several rounds, each figure is the
// median over the rounds, and each ratio the median of the ratios taken
// within a round (the two servers measured minutes apart, not tens of them).
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
const MINE = ['pusher', 'pusher-epoll', 'pusher-poll', 'pusher-journal', 'pusher-always', 'pusher-rooms', 'pusher-tls', 'pusher-nginx',
  'pusher-redis', 'pusher-2nodes', 'pusher-3nodes'];
// How a variant of pusher is named in a workload's row; pusher-rooms is the
// same server, its rooms are in the load generator's object.
const VARIANT = {
  'pusher-epoll': () => '[epoll: a system call per write]',
  'pusher-poll': () => '[poll]',
  'pusher-journal': () => '[journal]',
  'pusher-always': () => '[fsync always]',
  'pusher-rooms': (r) => (r?.room ? `[to room ${r.room}]` : `[each in ${r?.rooms_each} of ${r?.rooms_distinct} rooms]`),
  'pusher-tls': () => '[TLS]',
  'pusher-nginx': () => '[nginx ends TLS]',
  'pusher-redis': () => '[--redis, 1 node]',
  'pusher-2nodes': () => '[2 nodes, one Redis]',
  'pusher-3nodes': () => '[3 nodes, one Redis]',
};
const PEERS = [['bun-peer', 'bun'], ['ws-peer', 'ws']];
// The peers a variant is set against, in the same columns: over TLS, Node ws
// on node:https; none for rooms (the peers have none) or behind nginx.
const PEERS_OF = {
  'pusher-tls': [['ws-peer-tls', 'ws']],
  'pusher-rooms': [],
  'pusher-nginx': [],
  'pusher-redis': [],
  'pusher-2nodes': [],
  'pusher-3nodes': [],
};

// Near 100%, the load generator, not the server, set the pace: its rate is a
// floor for the server's, and the CPU time per delivery is the figure to read.
// The cores' busy shares (from /proc/stat) beside what the server and the
// load generator used of them say whether anything else ran: on a quiet
// machine the two agree within a few points.
// A cluster's Redis is on core 0 with its nodes, so its CPU is not "else".
function othersPct(r) {
  const core = r.core_busy_pct;
  if (!core || core.length < 2 || !(r.phase_s > 0)) return null;
  const mine = r.server_cpu_s + (r.redis_cpu_s ?? 0);
  return Math.max(0, core[0] - (100 * mine) / r.phase_s, core[1] - r.loadgen_busy_pct);
}
const OTHERS_LIMIT = 10;
const MACHINE = [
  ['server waited for a CPU, % of phase', (r) => r.server_runq_wait_pct, 'info'],
  ['load generator CPU, % of phase', (r) => r.loadgen_busy_pct, 'info'],
  ['core 0 (server) busy, % of phase', (r) => r.core_busy_pct?.[0], 'info'],
  ['core 1 (load generator) busy, % of phase', (r) => r.core_busy_pct?.[1], 'info'],
  ['busy with anything else, % of a core at most', othersPct, 'info'],
];

// Writes from /proc/PID/io, which counts read(2)/write(2) but not send(2):
// uWebSockets' writes are not in it (null there), the TCP segments its output
// arrived in are, for every server alike.
const SYSCALLS = (unit) => [
  [`server read+write syscalls/${unit}`, (r) => r.server_syscalls_per_delivery, 'info'],
  [`server writes/${unit}`, (r) => r.server_writes_per_delivery, 'down'],
  ['server bytes/write', (r) => r.server_bytes_per_write, 'info'],
  [`TCP segments in/${unit}`, (r) => r.segs_per_delivery, 'down'],
  ['bytes/TCP segment', (r) => r.bytes_per_seg, 'info'],
];

const windowed = (r) => !(r.rate > 0);
const rated = (r) => r.rate > 0;

// The cluster variants (loadgen's nodes and redis_cpu_s): each node's CPU
// per delivery to its own receivers (the first also reads the sender's
// messages and runs them through Redis), Redis's per message sent (not per
// delivery), and the nodes' and Redis's together per delivery, which plain
// pusher's server CPU is set against (it has no Redis).
const withRedis = (r) => r.redis_cpu_s !== null && r.redis_cpu_s !== undefined;
const CLUSTER = [
  ['server and Redis CPU s/M deliveries', (r) => (r.delivered ? ((r.server_cpu_s + (r.redis_cpu_s ?? 0)) * 1e6) / r.delivered : null), 'down', false, withRedis],
  ...[0, 1, 2, 3].map((k) => [`server CPU s/M deliveries, node ${k + 1} (its own receivers)`,
    (r) => r.nodes?.[k]?.cpu_s_per_M, 'info', false, (r) => r.nodes?.length > 1 && r.nodes.length > k]),
  ['Redis CPU us/message published', (r) => r.redis_cpu_us_per_message, 'info', false, withRedis],
  ['Redis CPU, % of phase', (r) => (r.phase_s > 0 && withRedis(r) ? (100 * r.redis_cpu_s) / r.phase_s : null), 'info', false, withRedis],
];

// Per mode: [label, how to read it from loadgen's object, kind, charted?,
// applies?] (the last two may be tests of the run): 'up' or 'down' says which
// way is better and earns a ratio; 'count' and 'info' are shown for context.
const METRICS = {
  idle: [
    ['handshakes/s', (r) => r.handshakes_per_s, 'up', true],
    ['server RSS bytes/conn', (r) => r.rss_per_conn_bytes, 'down', true],
    ['server CPU us/conn', (r) => r.server_cpu_us_per_conn, 'down', true],
    ['failed connections', (r) => r.failed, 'count'],
    ...MACHINE.filter(([label]) => !label.startsWith('load generator')),
  ],
  fanout: [
    ['deliveries/s', (r) => r.deliveries_per_s, 'up', windowed],
    ['delivered by the end of the drain, %', (r) => (r.expected ? (100 * r.delivered) / r.expected : null), 'up', true, rated],
    ['latency p50 ms', (r) => r.lat_us.p50 / 1000, 'down', true],
    ['latency p90 ms', (r) => r.lat_us.p90 / 1000, 'down'],
    ['latency p99 ms', (r) => r.lat_us.p99 / 1000, 'down', true],
    ['latency max ms', (r) => r.lat_us.max / 1000, 'down'],
    // The same deliveries, to their arrival in the receiver's socket (the
    // kernel's stamp): the server's pace, whatever the reader's.
    ['latency p99 ms, to the socket', (r) => (r.arrival_us ? r.arrival_us.p99 / 1000 : null), 'down'],
    ['server CPU s/M deliveries', (r) => r.server_cpu_s_per_M, 'down', true],
    ...CLUSTER,
    ...SYSCALLS('delivery'),
    ['undelivered after drain (lost or late)', (r) => r.lost, 'count'],
    ...MACHINE,
  ],
  pairs: [
    ['deliveries/s (one Group a second a room)', (r) => r.deliveries_per_s, 'info'],
    ['latency p50 ms', (r) => r.lat_us.p50 / 1000, 'down'],
    ['latency p99 ms', (r) => r.lat_us.p99 / 1000, 'down'],
    ['server CPU s/M deliveries', (r) => r.server_cpu_s_per_M, 'down'],
    ['messages each room\'s history holds', (r) => r.history_held_per_room, 'info'],
    ['history bytes/room (RSS growth / rooms)', (r) => r.history_bytes_per_room, 'down'],
    ['history bytes/message held', (r) => r.history_bytes_per_message, 'down'],
    ['undelivered after drain (lost or late)', (r) => r.lost, 'count'],
    ...MACHINE,
  ],
  join: [
    ['Join round trip p50 us, into the big room', (r) => r.join_big_us.p50, 'down'],
    ['Join round trip p50 us, into a room of 2', (r) => r.join_small_us.p50, 'down'],
    ['Join round trip p99 us, into the big room', (r) => r.join_big_us.p99, 'down'],
    ['Join round trip p99 us, into a room of 2', (r) => r.join_small_us.p99, 'down'],
    ['round trip p50 us without a Join', (r) => r.base_us.p50, 'info'],
    ['server CPU us/Join, big room (net, median)', (r) => r.join_big_server_us, 'down'],
    ['server CPU us/Join, room of 2 (net, median)', (r) => r.join_small_server_us, 'down'],
    ['server CPU per Join step, big / room of 2', (r) => r.join_big_over_small, 'info'],
    ['Joins timed into each', (r) => r.steps, 'count'],
    ...MACHINE.filter(([label]) => !label.startsWith('load generator')),
  ],
  echo: [
    ['round trips/s', (r) => r.round_trips_per_s, 'up', true],
    ['latency p50 ms', (r) => r.lat_us.p50 / 1000, 'down', true],
    ['latency p99 ms', (r) => r.lat_us.p99 / 1000, 'down', true],
    ['server CPU s/M round trips', (r) => r.server_cpu_s_per_M, 'down', true],
    ...SYSCALLS('round trip'),
    ['round trips not back after drain', (r) => r.lost, 'count'],
    ...MACHINE,
  ],
};

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const ratioText = (v) => `${v >= 0.1 ? v.toFixed(2) : v.toPrecision(2)}x`;
const fmtRatio = (v) => (v === null || v === undefined ? '-' : ratioText(v));

function median(vs) {
  const v = vs.filter((x) => x !== null).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const workloads = [...new Set(runs.map((r) => r.workload))];
const roundsOf = (w) => [...new Set(runs.filter((r) => r.workload === w).map((r) => r.round ?? 1))].sort((a, b) => a - b);
const rows = [];
const problems = [];

for (const run of runs) {
  const r = run.run;
  const many = roundsOf(run.workload).length > 1;
  const what = `${run.workload} / ${run.server}${many ? ` / round ${run.round}` : ''}`;
  if (run.server_end !== 'ok') problems.push(`${what}: server ended ${run.server_end}`);
  if (r.mode === 'none') { problems.push(`${what}: ${r.first_error}`); continue; }
  if (r.opened < r.connections) problems.push(`${what}: ${r.connections - r.opened} of ${r.connections} connections failed`);
  if (r.closed > 0) problems.push(`${what}: ${r.closed} connections closed by the server, codes ${JSON.stringify(r.close_codes)}`);
  if (r.lost > 0) problems.push(`${what}: ${r.lost} of ${r.expected} not delivered by the end of the drain (lost, or the server fell behind)`);
  if (r.server_sys_errors > 0) problems.push(`${what}: ${r.server_sys_errors} error notices from the server`);
  if (othersPct(r) > OTHERS_LIMIT) {
    problems.push(`${what}: something else ran on the cores: core 0 ${r.core_busy_pct[0]}% busy, the server ` +
      `${((100 * r.server_cpu_s) / r.phase_s).toFixed(1)}% of the phase; core 1 ${r.core_busy_pct[1]}%, the load generator ${r.loadgen_busy_pct}%`);
  }
  if (r.steal_pct > 5) problems.push(`${what}: the hypervisor took ${r.steal_pct}% of the cores (steal)`);
  if (r.first_error) problems.push(`${what}: first error: ${r.first_error}`);
}

for (const w of workloads) {
  const rounds = roundsOf(w);
  const of = (server, round) => runs.find((r) => r.workload === w && r.server === server && (r.round ?? 1) === round)?.run;
  for (const server of MINE) {
    const mine = rounds.map((k) => of(server, k));
    const mode = mine.find((r) => r && METRICS[r.mode])?.mode;
    if (!mode) continue;
    const sample = mine.find((r) => r?.mode === mode);
    for (const [metric, get, better, chart, applies] of METRICS[mode]) {
      if (applies && !applies(sample)) continue;
      const read = (r) => (r && r.mode === mode ? num(get(r)) : null);
      const a = mine.map(read);
      const row = {
        workload: server === 'pusher' ? w : `${w} ${VARIANT[server](sample)}`, server, metric, better,
        chart: typeof chart === 'function' ? chart(sample) : Boolean(chart), rounds: rounds.length, pusher: median(a), by_round: { [server]: a },
      };
      const ratioTo = (b) => median((better === 'up' || better === 'down')
        ? a.map((x, i) => (x !== null && b[i] ? x / b[i] : null)) : []);
      // Against plain pusher, the cluster's server and Redis CPU is set
      // against its server CPU alone: it has no Redis.
      const readPlain = (r) => (metric === 'server and Redis CPU s/M deliveries' && r?.mode === mode
        ? num(r.server_cpu_s_per_M) : read(r));
      const peers = PEERS_OF[server] ?? PEERS;
      for (const [, short] of PEERS) {
        const peer = peers.find(([, s]) => s === short)?.[0];
        const b = rounds.map((k) => (peer ? read(of(peer, k)) : null));
        row[short] = median(b);
        row[`ratio_${short}`] = ratioTo(b);
        if (peer) row.by_round[peer] = b;
      }
      // A variant against plain pusher on the same workload, round by round.
      if (server !== 'pusher') {
        const b = rounds.map((k) => readPlain(of('pusher', k)));
        row.plain = median(b);
        row.ratio_plain = ratioTo(b);
      }
      rows.push(row);
    }
  }
}

// Figures that take two runs of the same round: what a room membership and
// what OpenSSL's session add to an idle connection, against plain pusher.
function derive(w, server, metric, fn) {
  const rounds = roundsOf(w);
  const of = (s, k) => runs.find((r) => r.workload === w && r.server === s && (r.round ?? 1) === k)?.run;
  const v = rounds.map((k) => {
    const a = of(server, k), b = of('pusher', k);
    return a && b && a.mode === b.mode ? num(fn(a, b)) : null;
  });
  if (v.every((x) => x === null)) return;
  const sample = rounds.map((k) => of(server, k)).find(Boolean);
  const row = { workload: `${w} ${VARIANT[server](sample)}`, server, metric, better: 'info', chart: false,
    rounds: rounds.length, pusher: median(v), by_round: { [server]: v }, bun: null, ws: null, ratio_bun: null, ratio_ws: null };
  // Beside the variant's other rows.
  const at = rows.map((r) => r.workload).lastIndexOf(row.workload);
  rows.splice(at < 0 ? rows.length : at + 1, 0, row);
}
for (const w of workloads) {
  derive(w, 'pusher-rooms', 'bytes per room membership (vs plain pusher)', (a, b) =>
    (a.mode === 'idle' && a.rooms_each ? (a.rss_per_conn_bytes - b.rss_per_conn_bytes) / a.rooms_each : null));
  derive(w, 'pusher-tls', 'TLS bytes/conn (RSS/conn over plain pusher\'s)', (a, b) =>
    (a.mode === 'idle' ? a.rss_per_conn_bytes - b.rss_per_conn_bytes : null));
}

// The goals the rooms and TLS issues set, each read from the rows above.
const find = (pred, metric) => rows.find((r) => pred(r.workload, r.server) && r.metric === metric);
const goals = [];
{
  const room = find((w, s) => s === 'pusher-rooms' && w.startsWith('W2'), 'server CPU s/M deliveries');
  if (room) {
    goals.push({ goal: `${room.workload}: server CPU per delivery within 10% of W2 to everyone`,
      value: room.ratio_plain, text: `${fmtRatio(room.ratio_plain)} of everyone's`, met: room.ratio_plain !== null && room.ratio_plain <= 1.1 });
  }
  const tls = find((w, s) => s === 'pusher-tls' && w.startsWith('W1'), 'server RSS bytes/conn');
  if (tls && tls.ratio_ws !== null) {
    goals.push({ goal: 'W1 over TLS: pusher\'s RSS per connection at most 1/3 of Node ws on https',
      value: tls.ratio_ws, text: `${fmtRatio(tls.ratio_ws)} of Node's`, met: tls.ratio_ws <= 1 / 3 });
  }
  const join = find((w) => w.startsWith('R4'), 'server CPU per Join step, big / room of 2');
  const jrt = find((w) => w.startsWith('R4'), 'Join round trip p50 us, into the big room');
  const jrt2 = find((w) => w.startsWith('R4'), 'Join round trip p50 us, into a room of 2');
  if (join && jrt && jrt2) {
    const rt = jrt2.pusher ? jrt.pusher / jrt2.pusher : null;
    goals.push({ goal: `${join.workload} is not a scan: it costs about what a Join into a room of 2 does`,
      value: join.pusher, text: `server CPU per step ${fmtRatio(join.pusher)}, round trip ${fmtRatio(rt)} of the room of 2's`,
      met: rt !== null && rt < 1.5 && join.pusher !== null && join.pusher < 1.5 });
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
const titled = (r) => (r.rounds > 1 ? `${r.workload} (median of ${r.rounds})` : r.workload);

const head = ['workload', 'metric', 'pusher', 'bun', 'ws', 'pusher/bun', 'pusher/ws', 'vs plain pusher'];
const body = rows.map((r) => [titled(r), `${r.metric}${{ up: ' (higher better)', down: ' (lower better)' }[r.better] ?? ''}`,
  fmt(r.pusher, r.better === 'count'), fmt(r.bun, r.better === 'count'), fmt(r.ws, r.better === 'count'),
  fmtRatio(r.ratio_bun), fmtRatio(r.ratio_ws), fmtRatio(r.ratio_plain)]);
const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
const line = (cells) => cells.map((c, i) => (i >= 2 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ');
console.log(line(head));
console.log(width.map((n) => '-'.repeat(n)).join('  '));
let last = '';
for (const b of body) {
  console.log(line(b[0] === last ? ['', ...b.slice(1)] : b));
  last = b[0];
}
console.log('\nbun: bench/peers/bun-peer.js on Bun.serve (uWebSockets); ws: bench/peers/ws-peer.js on Node\'s ws' +
  '\n(for [TLS] rows, ws-peer.js on node:https); vs plain pusher: the variant over plain pusher on the' +
  '\nsame workload in the same round; [nginx ends TLS]: CPU and RSS are nginx\'s and pusher\'s together.' +
  '\nserver writes/bytes per write: /proc/PID/io, which does not count send(2), so none for bun;' +
  '\nTCP segments in: what each server\'s output arrived in at the load generator, for all three.' +
  '\n[N nodes, one Redis]: server CPU is the nodes\' together, Redis\'s apart; the nodes and Redis all' +
  '\nshare core 0, so these give the cost of a delivery, not how nodes scale.');
if (goals.length) {
  console.log('\ngoals of the rooms and TLS issues:');
  for (const g of goals) console.log(`  ${g.met ? 'met  ' : 'UNMET'}  ${g.goal}: ${g.text}`);
}
if (problems.length) {
  console.log('\nproblems seen:');
  for (const p of problems) console.log(`  ${p}`);
}

// ---------------------------------------------------------------- results.json

fs.writeFileSync(jsonPath, `${JSON.stringify({
  generated: new Date().toISOString(),
  host: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, kernel: os.release() },
  note: 'ratio_bun = pusher / bun-peer, ratio_ws = pusher / ws-peer (ws-peer-tls for pusher-tls), ratio_plain = ' +
    'a variant / plain pusher, each the median over rounds of the ratio within one round; pusher, bun, ws and ' +
    'plain are medians over rounds; server (and nginx, or the nodes and their Redis) on core 0, loadgen on core 1',
  load_average: { start: process.env.BENCH_LOAD_START ?? null, end: os.loadavg().map((v) => v.toFixed(2)).join(' ') },
  only: process.env.BENCH_ONLY ?? 'base,rooms,tls,cluster',
  rows, goals, problems, runs,
}, null, 2)}\n`);

// ---------------------------------------------------------------- results.svg

// One heading per workload, then per charted metric two bars: pusher / bun
// (dark) above pusher / ws (light). The poll backend stays in the table; the
// scale stops at 100x either way, so a peer that fell over does not squash
// every other bar (its figure is still written beside the cut bar).
const charted = rows.filter((r) => r.chart && r.server === 'pusher' && (r.ratio_bun > 0 || r.ratio_ws > 0));
const items = [];
for (const r of charted) {
  if (!items.length || items[items.length - 1].row?.workload !== r.workload) items.push({ heading: titled(r) });
  items.push({ row: r });
}
const HEAD = 24, ROW = 30, LEFT = 330, PLOT = 440, TOP = 64, W = LEFT + PLOT + 130;
const H = TOP + items.reduce((h, it) => h + (it.heading ? HEAD : ROW), 0) + 40;
const all = charted.flatMap((r) => [r.ratio_bun, r.ratio_ws]).filter((v) => v > 0);
const lo = Math.max(0.01, Math.min(0.1, ...all)), hi = Math.min(100, Math.max(10, ...all));
const span = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
const clip = (v) => Math.min(10 ** span[1], Math.max(10 ** span[0], v));
const x = (v) => LEFT + ((Math.log10(clip(v)) - span[0]) / (span[1] - span[0])) * PLOT;
const tick = (e) => (e >= 0 ? `${10 ** e}` : `0.${'0'.repeat(-e - 1)}1`);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLOURS = { bun: { good: '#2a8a2a', bad: '#b82222' }, ws: { good: '#8fd18f', bad: '#f09a9a' } };

const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  '<text x="10" y="20" font-size="15" font-weight="bold">pusher / peer, same run (log scale; green: pusher better)</text>',
  '<text x="10" y="40">per metric, upper dark bar: pusher / bun (Bun.serve, uWebSockets); lower light bar: pusher / ws (Node)</text>',
];
for (let e = span[0]; e <= span[1]; e++) {
  const v = 10 ** e;
  svg.push(`<line x1="${x(v)}" y1="${TOP - 8}" x2="${x(v)}" y2="${H - 30}" stroke="${e === 0 ? '#333' : '#ddd'}"/>`,
    `<text x="${x(v)}" y="${H - 14}" text-anchor="middle">${tick(e)}x</text>`);
}
let y = TOP;
for (const it of items) {
  if (it.heading) {
    svg.push(`<text x="10" y="${y + 16}" font-weight="bold">${esc(it.heading)}</text>`);
    y += HEAD;
    continue;
  }
  const r = it.row;
  svg.push(`<text x="${LEFT - 8}" y="${y + 18}" text-anchor="end">${esc(`${r.metric} ${r.better === 'up' ? '↑' : '↓'}`)}</text>`);
  PEERS.forEach(([, short], k) => {
    const v = r[`ratio_${short}`];
    const by = y + 3 + k * 12;
    if (!(v > 0)) {
      svg.push(`<text x="${x(1) + 4}" y="${by + 9}" font-size="10" fill="#666">${short}: -</text>`);
      return;
    }
    const good = r.better === 'up' ? v >= 1 : v <= 1;
    const x0 = Math.min(x(1), x(v)), x1 = Math.max(x(1), x(v));
    const cut = clip(v) !== v ? ' (off the scale)' : '';
    svg.push(`<rect x="${x0}" y="${by}" width="${Math.max(1, x1 - x0)}" height="11" fill="${COLOURS[short][good ? 'good' : 'bad']}"/>`,
      `<text x="${x1 + 4}" y="${by + 9}" font-size="10">${ratioText(v)} vs ${short}${cut}</text>`);
  });
  y += ROW;
}
svg.push('</svg>');
fs.writeFileSync(svgPath, `${svg.join('\n')}\n`);
console.log(`\nwrote ${jsonPath} and ${svgPath}`);
