'use strict';
// bench/peers/ws-peer.js - the benchmark's peer: pusher's wire contract
// (/work/shared/PROTOCOL.md) as a Node developer would most likely write it,
// on the `ws` package. It serves what the benchmark's workloads use: the
// upgrade at /websocket?userId= (with &since=), Group to everyone else, Single
// to every connection of `to`, OnlineNotify / OfflineNotify on a user's first
// and last connection, ids, the last 100 Group and presence messages replayed
// on connect, the message limit, a cap on unsent output, close 1001 on
// SIGTERM, and /healthz and /admin. Left out, as no workload touches them:
// tokens, origins, /metrics, /api/push, the rate limit, keepalive pings.
//
//   node ws-peer.js [PORT] [--tls-cert FILE --tls-key FILE]
//                                 (or PORT=N; 0 picks a free port)
//
// With the two files it serves https:// and wss:// through node:https, as a
// Node developer would put TLS on it, for the benchmark's workloads over TLS.
// Like pusher it logs `event=listen ... port=N` on stderr once it listens.

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { WebSocketServer } = require('ws');

// PORT first, then --tls-cert FILE and --tls-key FILE (or --tls-cert=FILE).
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const [, v] = args[i].split(/=(.*)/s);
  const value = v ?? args[i + 1];
  args.splice(i, v === undefined ? 2 : 1);
  return value;
};
const TLS_CERT = flag('--tls-cert');
const TLS_KEY = flag('--tls-key');
if (Boolean(TLS_CERT) !== Boolean(TLS_KEY)) {
  process.stderr.write('ws-peer: --tls-cert and --tls-key go together\n');
  process.exit(2);
}
const PORT = Number(args[0] ?? process.env.PORT ?? 8080);
const MAX_MESSAGE = 65536;
const MAX_PENDING = Number(process.env.MAX_PENDING ?? 16 * 1024 * 1024);
const HISTORY = 100;

const SINGLE = 0, GROUP = 1, SYS = 2, ONLINE = 3, OFFLINE = 4;

const users = new Map(); // userId -> Set of sockets
const all = new Set();   // every open socket
const history = [];      // [{ id, text }], oldest first
let lastId = 0;

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
function send(ws, text) {
  if (ws.bufferedAmount > MAX_PENDING) {
    ws.close(1008, 'too much unsent output');
    return;
  }
  ws.send(text);
}

// Encodes once, sends the same string to every recipient.
function broadcast(msg, except, remember) {
  const text = JSON.stringify(msg);
  if (remember) {
    history.push({ id: msg.id, text });
    if (history.length > HISTORY) history.shift();
  }
  for (const ws of all) if (ws !== except) send(ws, text);
}

function sysError(ws, what) {
  send(ws, JSON.stringify(message(SYS, '', ws.userId, `error: ${what}`)));
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

function onMessage(ws, data, isBinary) {
  if (isBinary) { ws.close(1003, 'binary messages are not accepted'); return; }
  let m;
  try { m = JSON.parse(data); } catch { sysError(ws, 'bad JSON'); return; }
  const bad = check(m);
  if (bad) { sysError(ws, bad); return; }
  const to = m.to ?? '';
  const out = message(m.messageType, ws.userId, to, m.content ?? '', m);
  if (m.messageType === GROUP) {
    if (to !== '') { sysError(ws, `unknown group "${to}"`); return; }
    broadcast(out, ws, true);
    return;
  }
  const targets = users.get(to);
  if (!targets) { sysError(ws, `user "${to}" is not online`); return; }
  const text = JSON.stringify(out);
  for (const t of targets) send(t, text);
}

function onConnection(ws, userId, since) {
  ws.userId = userId;
  for (const h of history) if (h.id > since) send(ws, h.text);
  let mine = users.get(userId);
  if (!mine) {
    mine = new Set();
    users.set(userId, mine);
    broadcast(message(ONLINE, userId, '', ''), null, true);
  }
  mine.add(ws);
  all.add(ws);
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('error', () => {});
  ws.on('close', () => {
    all.delete(ws);
    mine.delete(ws);
    if (mine.size === 0) {
      users.delete(userId);
      broadcast(message(OFFLINE, userId, '', ''), null, true);
    }
  });
}

function plain(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/plain', Connection: 'close' });
  res.end(body);
}

function onRequest(req, res) {
  if (req.url === '/healthz') plain(res, 200, 'ok');
  else if (req.url === '/admin') plain(res, 200, `${all.size}\n`);
  else plain(res, 404, 'not found\n');
}

const server = TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(TLS_CERT), key: fs.readFileSync(TLS_KEY) }, onRequest)
  : http.createServer(onRequest);

const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });

function refuse(socket, status, reason) {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${Buffer.byteLength(reason) + 1}\r\nConnection: close\r\n\r\n${reason}\n`);
}

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  const url = new URL(req.url, 'http://x');
  if (url.pathname !== '/websocket') { refuse(socket, 404, 'not found'); return; }
  const userId = url.searchParams.get('userId') ?? '';
  // eslint-disable-next-line no-control-regex
  if (!userId || Buffer.byteLength(userId) > 64 || /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(userId)) {
    refuse(socket, 400, 'userId must be 1 to 64 bytes of UTF-8 without control characters');
    return;
  }
  const sinceText = url.searchParams.get('since') ?? '0';
  if (!/^\d+$/.test(sinceText)) { refuse(socket, 400, 'since must be a message id'); return; }
  const since = Number(sinceText);
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, userId, since));
});

server.listen(PORT, () => {
  process.stderr.write(`ts=${new Date().toISOString()} level=info event=listen ` +
    `addr=0.0.0.0 port=${server.address().port}\n`);
});

function stop() {
  for (const ws of all) ws.close(1001, 'server shutting down');
  server.close();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
