'use strict';
// What the rooms tests share (rooms.test.js, rooms_connect.test.js): the
// message types, short forms of messages for failure messages, and Join,
// refusal and /api/online helpers. Every wait is the helpers' bounded one.

const assert = require('node:assert/strict');
const h = require('./helpers');

const JOIN = 5;
const LEAVE = 6;

const isError = (m) => m && m.messageType === 2 && typeof m.content === 'string' && m.content.startsWith('error:');
const brief = (m) => `${m.messageType}:${m.from}:${m.to}:${h.clip(m.content, 30)}`;
const briefs = (list) => list.map(brief);

// Connects clients in order and consumes what they got on the way in.
async function clients(srv, ...users) {
  const out = [];
  for (const u of users) out.push(await h.connect(srv, u));
  await h.settle(...out);
  return out;
}

// Sends a Join of room (extra: more fields, such as since) and returns what
// the connection received before its sync marker came back: the room's
// history, or an error reply. The server handles a connection's frames in
// order, so everything the Join caused for it has arrived by then.
async function joinRaw(c, room, extra = {}) {
  c.send({ messageType: JOIN, to: room, ...extra });
  return c.sync();
}

// joinRaw, and fails where the Join was answered with an error.
async function join(c, room, extra = {}) {
  const got = await joinRaw(c, room, extra);
  const err = got.find(isError);
  assert.ok(!err, `${c.label}: the Join of ${JSON.stringify(room)} was refused: ${err && err.content}`);
  return got;
}

// Sends obj and expects exactly one error reply, the connection kept open.
async function expectRefused(c, obj, what) {
  c.send(obj);
  const m = await c.next(`an error reply to ${what}`);
  h.assertError(m, `${c.label}: reply to ${what}`);
  assert.deepEqual(briefs(await c.sync()), [], `${c.label}: exactly one reply to ${what}`);
  assert.ok(c.isOpen, `${c.label}: the connection stays open after ${what}`);
  return m;
}

async function onlineRaw(srv, query) {
  return h.get(srv, `/api/online?${query}`);
}

module.exports = { JOIN, LEAVE, isError, brief, briefs, clients, joinRaw, join, expectRefused, onlineRaw };
