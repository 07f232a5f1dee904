'use strict';
// bench/peers/bun-peer.js - the benchmark's second peer: the same subset of
// pusher's wire contract (/work/shared/PROTOCOL.md) as ws-peer.js, as a Bun
// developer would most likely write it, on Bun.serve's WebSocket server, which
// is uWebSockets (C++) underneath. Group fan-out goes through its pub/sub
// (one topic, "all", that every connection subscribes to), so the bytes are
// framed once and queued to every subscriber inside uWebSockets, not in JS.
// It serves: the upgrade at /websocket?userId= (with &since=), Group to
// everyone else, Single to every connection of `to`, OnlineNotify /
// OfflineNotify on a user's first and last connection, ids, the last 100
// Group and presence messages replayed on connect, the message limit, a cap on
// unsent output, close 1001 on SIGTERM, and /healthz and /admin. Left out, as
// in ws-peer.js: tokens, origins, /metrics, /api/push, the rate limit,
// keepalive pings.
//
//   bun bun-peer.js [PORT]        (or PORT=N; 0 picks a free port)
//
// Like pusher it logs `event=listen ... port=N` on stderr once it listens.

const PORT = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const MAX_MESSAGE = 65536;
const MAX_PENDING = Number(process.env.MAX_PENDING ?? 16 * 1024 * 1024);
const HISTORY = 100;
const TOPIC = 'all';

const SINGLE = 0, GROUP = 1, SYS = 2, ONLINE = 3, OFFLINE = 4;

const users = new Map(); // userId -> Set of sockets
const all = new Set();   // every open socket, for /admin and shutdown
const history = [];      // [{ id, text }], oldest first
let lastId = 0;
let server;

// Ids start from the clock in microseconds, so they grow across restarts.
function nextId() {
  lastId = Math.max(lastId + 1, Date.now() * 1000);
  return lastId;
}

function message(type, from, to, content, extra) {
  const now = Date.now();
  return {
    messageType: type, mediaType: extra?.mediaType ?? 0, from, to, content,
    fileId: extra?.fileId ?? '', url: extra?.url ?? '',
    createAt: extra?.createAt || now, updateAt: now, id: nextId(),
  };
}

// A reader that does not keep up is dropped rather than buffered without end.
// This covers direct sends; published ones are checked by sweep() below.
function send(ws, text) {
  if (ws.getBufferedAmount() > MAX_PENDING) {
    ws.close(1008, 'too much unsent output');
    return;
  }
  ws.send(text);
}

function remember(msg, text) {
  history.push({ id: msg.id, text });
  if (history.length > HISTORY) history.shift();
}

// Publish gives no per-subscriber answer, and uWebSockets' own limit closes
// without a close frame (the client sees 1006), so every socket's unsent
// output is checked here for the 1008 the contract gives. No socket can grow
// by more than what was published since the last check, so checking once per
// quarter of the cap published (counted in UTF-16 units, at most 3 bytes each)
// bounds the overshoot without a timer (an idle server never checks); the
// uWebSockets limit, at twice the cap, is a backstop.
let publishedSince = 0;

function sweep(bytes) {
  publishedSince += bytes;
  if (publishedSince < MAX_PENDING / 4) return;
  publishedSince = 0;
  for (const ws of all) {
    if (ws.getBufferedAmount() > MAX_PENDING) ws.close(1008, 'too much unsent output');
  }
}

// Encodes once; `from`, when given, is the sending socket, which publish
// leaves out (ws.publish reaches every subscriber but itself).
function broadcast(msg, from) {
  const text = JSON.stringify(msg);
  remember(msg, text);
  if (from) from.publish(TOPIC, text);
  else server.publish(TOPIC, text);
  sweep(text.length);
}

function sysError(ws, what) {
  send(ws, JSON.stringify(message(SYS, '', ws.data.userId, `error: ${what}`)));
}

function check(m) {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'not a JSON object';
  for (const k of ['messageType', 'mediaType', 'createAt']) {
    if (m[k] !== undefined && !Number.isInteger(m[k])) return `${k} must be an integer`;
  }
  for (const k of ['from', 'to', 'content', 'fileId', 'url']) {
    if (m[k] !== undefined && typeof m[k] !== 'string') return `${k} must be a string`;
  }
  if (m.messageType !== SINGLE && m.messageType !== GROUP) {
    return 'messageType must be 0 (Single) or 1 (Group)';
  }
  if (m.mediaType !== undefined && (m.mediaType < 0 || m.mediaType > 2)) {
    return 'mediaType must be 0, 1 or 2';
  }
  return null;
}

function onMessage(ws, data) {
  if (typeof data !== 'string') { ws.close(1003, 'binary messages are not accepted'); return; }
  let m;
  try { m = JSON.parse(data); } catch { sysError(ws, 'bad JSON'); return; }
  const bad = check(m);
  if (bad) { sysError(ws, bad); return; }
  const to = m.to ?? '';
  const out = message(m.messageType, ws.data.userId, to, m.content ?? '', m);
  if (m.messageType === GROUP) {
    if (to !== '') { sysError(ws, `unknown group "${to}"`); return; }
    broadcast(out, ws);
    return;
  }
  const targets = users.get(to);
  if (!targets) { sysError(ws, `user "${to}" is not online`); return; }
  const text = JSON.stringify(out);
  for (const t of targets) send(t, text);
}

// The newcomer gets the history before it subscribes, and the OnlineNotify
// goes out before it does, so it never sees its own.
function onOpen(ws) {
  const { userId, since } = ws.data;
  for (const h of history) if (h.id > since) send(ws, h.text);
  let mine = users.get(userId);
  if (!mine) {
    mine = new Set();
    users.set(userId, mine);
    broadcast(message(ONLINE, userId, '', ''), null);
  }
  mine.add(ws);
  all.add(ws);
  ws.subscribe(TOPIC);
}

// uWebSockets has already taken a closed socket out of the topic.
function onClose(ws) {
  const { userId } = ws.data;
  all.delete(ws);
  const mine = users.get(userId);
  if (!mine) return;
  mine.delete(ws);
  if (mine.size === 0) {
    users.delete(userId);
    broadcast(message(OFFLINE, userId, '', ''), null);
  }
}

function plain(status, body) {
  return new Response(body, { status, headers: { 'Content-Type': 'text/plain', Connection: 'close' } });
}

function onRequest(req, srv) {
  const url = new URL(req.url);
  if (url.pathname === '/healthz') return plain(200, 'ok');
  if (url.pathname === '/admin') return plain(200, `${all.size}\n`);
  if (url.pathname !== '/websocket') return plain(404, 'not found\n');
  const userId = url.searchParams.get('userId') ?? '';
  // eslint-disable-next-line no-control-regex
  if (!userId || Buffer.byteLength(userId) > 64 || /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(userId)) {
    return plain(400, 'userId must be 1 to 64 bytes of UTF-8 without control characters\n');
  }
  const sinceText = url.searchParams.get('since') ?? '0';
  if (!/^\d+$/.test(sinceText)) return plain(400, 'since must be a message id\n');
  if (srv.upgrade(req, { data: { userId, since: Number(sinceText) } })) return undefined;
  return plain(400, 'not a WebSocket upgrade\n');
}

server = Bun.serve({
  port: PORT,
  hostname: '0.0.0.0',
  fetch: onRequest,
  websocket: {
    open: onOpen,
    message: onMessage,
    close: onClose,
    maxPayloadLength: MAX_MESSAGE,
    backpressureLimit: 2 * MAX_PENDING,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    // No keepalive, as in ws-peer.js: 0 turns uWebSockets' idle timer off.
    idleTimeout: 0,
    sendPings: false,
  },
});

process.stderr.write(`ts=${new Date().toISOString()} level=info event=listen ` +
  `addr=0.0.0.0 port=${server.port}\n`);

function stop() {
  for (const ws of [...all]) ws.close(1001, 'server shutting down');
  server.stop();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
