'use strict';
// Rooms on the chat page (PROTOCOL.md "Rooms"), as people use them: a room's
// name is typed into the join form and Join is pressed, a conversation is
// opened with a click in the list, a room is left with its × button.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const { sharedBrowser, tabs, WAIT } = require('./browser');

const T = { timeout: 90000 };
const browser = sharedBrowser(after);
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
// The refused connects while a server is down are logged by the browser itself.
const DOWN = [/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/];

// Every tab opened in a test is closed when it ends.
const { tab, joined } = tabs(browser);

const chat = (lines) => lines.filter((l) => l.kind === 'group' || l.kind === 'single');
const texts = (lines) => chat(lines).map((l) => l.text);
const show = (lines) => JSON.stringify(lines.map((l) => `${l.kind}:${l.who}:${l.text}`));
const at = (srv, query = '') => `http://127.0.0.1:${srv.port}/${query ? `?${query}` : ''}`;

// Each chat line of a conversation shown once: no text twice, no id twice.
function assertOnce(lines, label) {
  const seen = new Map();
  for (const l of chat(lines)) seen.set(l.text, (seen.get(l.text) || 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${label} shows a message more than once: ${show(lines)}`);
  const ids = lines.map((l) => l.id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, `${label} shows an id twice: ${JSON.stringify(ids)}`);
}

// The rooms in the list, in order, as "room:state" ('' is everyone).
async function roomList(p) {
  return (await p.rooms()).map((r) => `${r.room}:${r.state}`);
}

// Waits until the unread count shown for a room is `want` ('' for none).
async function waitUnread(p, room, want, what) {
  await p.waitUntil(([r, w]) => {
    const li = [...document.querySelectorAll('#rooms li')].find((x) => x.dataset.room === r);
    return li && ((li.querySelector('.unread') || {}).textContent || '') === w;
  }, `${what} (room ${JSON.stringify(room)} to show unread "${want}")`, WAIT, [room, want]);
}

// The users of a room according to the server.
async function members(srv, room, token = '') {
  const res = await h.get(srv, `/api/online?room=${encodeURIComponent(room)}${token ? `&token=${token}` : ''}`);
  assert.equal(res.status, 200, `/api/online?room=${room} answered ${res.status} ${res.body}`);
  return JSON.parse(res.body).users;
}

// What the page keeps for a user in localStorage.
const stored = (p, user) => p.page.evaluate((u) => JSON.parse(localStorage.getItem(`pusher.rooms.${u}`) || 'null'), user);

test('two pages talk in a room: the other page has it in the room\'s conversation, not everyone\'s, and one outside sees none of it', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  const carol = await joined(t, srv, 'carol');
  await alice.joinRoom('ops');
  await bob.joinRoom('ops');
  await alice.waitRoomLine('ops', (l) => l.kind === 'online' && l.text === 'bob joined', 'bob to join ops');
  assert.deepEqual(await members(srv, 'ops'), ['alice', 'bob'], 'the server has both in the room');
  assert.deepEqual(await roomList(alice), [':in', 'ops:in'], 'alice\'s list: everyone first, then ops');
  assert.equal((await alice.rooms()).find((r) => r.current).room, 'ops', 'the room joined is the one shown');
  assert.equal(await alice.page.textContent('#target'), 'to: everyone in ops');

  await alice.say('deploying the API at 4');
  const got = await bob.waitRoomLine('ops', (l) => l.text === 'deploying the API at 4', 'alice\'s message in ops');
  assert.equal(got.kind, 'group');
  assert.equal(got.who, 'alice');
  await bob.say('ack, I will watch the errors');
  await alice.waitRoomLine('ops', (l) => l.text === 'ack, I will watch the errors', 'bob\'s reply in ops');
  assert.deepEqual(alice.sent.filter((m) => m.messageType === 1).map((m) => [m.to, m.content]),
    [['ops', 'deploying the API at 4']], 'the page sent a Group with to = the room');

  // Once carol has alice's next message to everyone, a leaked room message would be there too.
  await alice.openRoom('');
  await alice.say('lunch, anyone?');
  await carol.waitLine((l) => l.text === 'lunch, anyone?', 'alice\'s message to everyone');
  await bob.waitRoomLine('', (l) => l.text === 'lunch, anyone?', 'alice\'s message to everyone');
  assert.deepEqual(texts(await carol.lines()), ['lunch, anyone?'], 'carol, outside the room, sees none of it');
  assert.deepEqual((await carol.lines()).filter((l) => /ops|bob joined/.test(l.text) && l.kind !== 'online'), []);
  assert.deepEqual(await roomList(carol), [':in'], 'carol is in no room');
  for (const [p, own] of [[alice, 'deploying'], [bob, 'ack']]) {
    const room = await p.roomLines('ops');
    assert.deepEqual(texts(room), ['deploying the API at 4', 'ack, I will watch the errors'], `${p.label}'s ops conversation`);
    for (const l of chat(room)) assert.equal(l.own, l.text.startsWith(own), `${p.label}: only its own line is its own: ${show(room)}`);
    assertOnce(room, `${p.label}'s ops`);
    assert.deepEqual(texts(await p.roomLines('')), ['lunch, anyone?'], `${p.label}'s everyone conversation holds no room message`);
  }
  assert.equal((await bob.roomLines('ops')).find((l) => l.text.startsWith('ack')).who, 'you');

  // A private message from a room is a Single, shown with the others in the everyone conversation.
  await bob.openRoom('ops');
  await bob.pick('alice');
  assert.equal(await bob.shown(), '', 'picking a person shows the everyone conversation');
  await bob.say('psst: the rollback is ready');
  const psst = await alice.waitRoomLine('', (l) => l.text === 'psst: the rollback is ready', 'bob\'s private message');
  assert.equal(psst.kind, 'single');
  await alice.openRoom('ops');
  await alice.screenshot('rooms.png');
  for (const p of [alice, bob, carol]) p.assertClean();
});

test('the unread count rises on a room not shown and clears when it is opened', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  const carol = await joined(t, srv, 'carol');
  await alice.joinRoom('ops');
  await alice.joinRoom('design');
  await bob.joinRoom('ops');
  await alice.waitRoomLine('ops', (l) => l.text === 'bob joined', 'bob to join ops');
  await alice.openRoom('');

  // Arrivals are not lines to read; messages from others are, one's own are not.
  await carol.joinRoom('ops');
  await alice.waitRoomLine('ops', (l) => l.text === 'carol joined', 'carol to join ops');
  assert.equal((await alice.rooms()).find((r) => r.room === 'ops').unread, '', 'a join is not counted as unread');
  for (const text of ['build is red', 'it is the flaky test again', 'rerunning']) await bob.say(text);
  await alice.waitRoomLine('ops', (l) => l.text === 'rerunning', 'bob\'s third message');
  await waitUnread(alice, 'ops', '3', 'three messages from bob in ops');
  assert.equal((await alice.rooms()).find((r) => r.room === 'design').unread, '', 'nothing came in design');
  assert.equal((await alice.rooms()).find((r) => r.room === '').unread, '', 'the conversation shown has no count');
  await alice.screenshot('rooms-unread.png');

  await alice.openRoom('ops');
  await waitUnread(alice, 'ops', '', 'opening ops');
  assert.deepEqual(texts(await alice.lines()), ['build is red', 'it is the flaky test again', 'rerunning'],
    'the conversation shown is ops, with bob\'s messages');
  await alice.say('thanks bob');
  await bob.waitRoomLine('ops', (l) => l.text === 'thanks bob', 'alice\'s reply');

  // The everyone conversation counts the same way while a room is shown.
  await carol.openRoom('');
  await carol.say('standup in 5');
  await alice.waitRoomLine('', (l) => l.text === 'standup in 5', 'carol\'s message to everyone');
  await waitUnread(alice, '', '1', 'carol\'s message to everyone while ops is shown');
  assert.equal((await alice.rooms()).find((r) => r.room === 'ops').unread, '', 'ops stays read');
  await alice.openRoom('');
  await waitUnread(alice, '', '', 'opening everyone');
  for (const p of [alice, bob, carol]) p.assertClean();
});

test('a reload keeps the rooms and shows their history once; a server restart reconnects into them without repeats', T, async (t) => {
  let srv = await h.startServer();
  t.after(() => srv.stop());
  const port = srv.port;
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.joinRoom('ops');
  await alice.joinRoom('release notes'); // a name that needs percent-encoding in rooms=
  await bob.joinRoom('ops');
  await bob.say('ops one');
  await bob.say('ops two');
  await alice.openRoom('release notes');
  await alice.say('notes: drafted');
  await alice.openRoom('');
  await alice.say('hello all');
  await alice.waitRoomLine('ops', (l) => l.text === 'ops two', 'bob\'s messages in ops');
  await bob.waitRoomLine('', (l) => l.text === 'hello all', 'alice\'s message to everyone');
  await waitUnread(alice, 'ops', '2', 'bob\'s two messages, not yet read');
  assert.deepEqual((await stored(alice, 'alice')).rooms, ['ops', 'release notes'], 'the rooms are kept for alice');

  await alice.page.reload({ waitUntil: 'load' });
  await alice.waitOnline();
  await alice.waitRoomLine('ops', (l) => l.text === 'ops two', 'the ops history after the reload');
  assert.deepEqual(await roomList(alice), [':in', 'ops:in', 'release notes:in'], 'the same rooms after the reload');
  const url = new URL(alice.sockets.at(-1));
  assert.equal(url.searchParams.get('rooms'), 'ops,release notes', `the page rejoins with rooms=: ${url}`);
  assert.match(url.search, /rooms=ops,release%20notes(&|$)/, 'each name percent-encoded, the list split by a bare comma');
  assert.equal((await alice.rooms()).find((r) => r.room === 'ops').unread, '2',
    'what was unread before the reload is still unread, and no more');
  const check = async (label) => {
    const ops = await alice.roomLines('ops');
    assert.deepEqual(texts(ops), ['ops one', 'ops two'], `${label}: ops shows its history once: ${show(ops)}`);
    assertOnce(ops, `${label}: ops`);
    const notes = await alice.roomLines('release notes');
    assert.deepEqual(chat(notes).map((l) => [l.who, l.text]), [['you', 'notes: drafted']], `${label}: release notes: ${show(notes)}`);
    const all = await alice.roomLines('');
    assert.deepEqual(texts(all), ['hello all'], `${label}: the everyone conversation holds no room message: ${show(all)}`);
    assertOnce(all, `${label}: everyone`);
  };
  await check('after the reload');
  await alice.openRoom('ops');
  await waitUnread(alice, 'ops', '', 'opening ops');
  await alice.openRoom('');
  await alice.page.reload({ waitUntil: 'load' });
  await alice.waitOnline();
  await alice.waitRoomLine('ops', (l) => l.text === 'ops two', 'the ops history after the second reload');
  assert.equal((await alice.rooms()).find((r) => r.room === 'ops').unread, '', 'read before the reload, read after it');
  await check('after the second reload');

  // The server restarts under both pages: they come back into their rooms by themselves.
  for (const p of [alice, bob]) await p.page.evaluate(() => { window.sameDocument = true; });
  await srv.stop();
  for (const p of [alice, bob]) {
    await p.waitLine((l) => l.local && /^disconnected: server going away \(1001\)/.test(l.text), 'the page to say the server went away');
  }
  srv = await h.startServer(['--bind', '127.0.0.1', '--port', String(port)], { bare: true });
  for (const p of [alice, bob]) await p.waitOnline(15000);
  const again = new URL(alice.sockets.at(-1));
  assert.equal(again.searchParams.get('rooms'), 'ops,release notes', `alice reconnects into her rooms: ${again}`);
  assert.ok(Number(again.searchParams.get('since')) > 0, `with since=: ${again}`);
  await h.waitFor(async () => (await members(srv, 'ops')).length === 2, 'both back in ops on the new server');
  assert.deepEqual(await members(srv, 'ops'), ['alice', 'bob']);
  assert.deepEqual(await members(srv, 'release notes'), ['alice']);

  await bob.say('ops three, after the restart');
  await alice.waitRoomLine('ops', (l) => l.text === 'ops three, after the restart', 'bob\'s message after the restart');
  await alice.openRoom('ops');
  await alice.say('ops four');
  await bob.waitRoomLine('ops', (l) => l.text === 'ops four', 'alice\'s message after the restart');
  for (const p of [alice, bob]) {
    assert.equal(await p.page.evaluate(() => window.sameDocument), true, `${p.label} reconnected without a reload`);
    const ops = await p.roomLines('ops');
    assert.deepEqual(texts(ops), ['ops one', 'ops two', 'ops three, after the restart', 'ops four'], `${p.label}'s ops: ${show(ops)}`);
    assertOnce(ops, `${p.label}'s ops`);
    assert.deepEqual(await roomList(p), p === alice ? [':in', 'ops:in', 'release notes:in'] : [':in', 'ops:in']);
    p.assertClean(DOWN);
  }
});

test('leaving a room takes it off the list, the others see "left", and joining again shows its history', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.joinRoom('ops');
  await bob.joinRoom('ops');
  await alice.say('are you staying?');
  await bob.waitRoomLine('ops', (l) => l.text === 'are you staying?', 'alice\'s message');

  await bob.leaveRoom('ops');
  assert.deepEqual(await roomList(bob), [':in'], 'ops is gone from bob\'s list');
  assert.equal(await bob.shown(), '', 'bob is back in the everyone conversation');
  assert.deepEqual(bob.sent.filter((m) => m.messageType === 6 && m.to === 'ops').length, 1, 'the page sent one Leave');
  const gone = await alice.waitRoomLine('ops', (l) => l.kind === 'offline' && l.text === 'bob left', 'bob to leave ops');
  assert.ok(gone.id, 'the line is the server\'s Leave message');
  await alice.screenshot('rooms-left.png');
  assert.deepEqual(await members(srv, 'ops'), ['alice']);
  assert.deepEqual((await stored(bob, 'bob')).rooms, [], 'the room is not remembered');
  assert.deepEqual(texts(await bob.roomLines('')), [], 'nothing of the room was moved to everyone');

  // bob is out: once he has alice's next message to everyone, a room message would be there too.
  await alice.say('bye bob');
  await alice.openRoom('');
  await alice.say('to everyone');
  await bob.waitLine((l) => l.text === 'to everyone', 'alice\'s message to everyone');
  assert.deepEqual(texts(await bob.lines()), ['to everyone'], 'bob sees nothing of the room he left');

  // A reload does not bring it back; joining again shows the room as it is, history and all.
  await bob.page.reload({ waitUntil: 'load' });
  await bob.waitOnline();
  assert.deepEqual(await roomList(bob), [':in']);
  assert.equal(new URL(bob.sockets.at(-1)).searchParams.get('rooms'), null, 'no rooms= any more');
  await bob.joinRoom('ops');
  await bob.waitRoomLine('ops', (l) => l.text === 'bye bob', 'the room\'s history');
  const ops = await bob.roomLines('ops');
  assert.deepEqual(texts(ops), ['are you staying?', 'bye bob'], `bob's ops after joining again: ${show(ops)}`);
  assertOnce(ops, 'bob\'s ops');
  await alice.waitRoomLine('ops', (l) => l.kind === 'online' && l.text === 'bob joined' &&
    Number(l.id) > Number(gone.id), 'bob to join again');
  for (const p of [alice, bob]) p.assertClean();
});

test('a room name the page cannot use is refused before it is sent; a join the server refuses is shown and not kept', T, async (t) => {
  const SECRET = 'rooms-test-secret';
  const srv = await h.serve(t, ['--secret', SECRET, '--max-rooms', '2']);
  const tok = h.makeJwt({ sub: 'alice', rooms: ['ops', 'dev', 'qa'] }, SECRET);
  const alice = await tab(t, srv, 'alice', { url: at(srv, `userId=alice&token=${tok}`) });
  await alice.waitOnline();

  // The page's own checks: nothing is sent, the form says why, the name stays to be mended.
  const cases = [['a\u0001b', /may not hold control characters/], ['x'.repeat(65), /at most 64 bytes of UTF-8; this one has 65/],
    ['é'.repeat(33), /at most 64 bytes of UTF-8; this one has 66/], ['ops,dev', /may not hold a comma/]];
  for (const [name, why] of cases) {
    await alice.submitRoom(name);
    await alice.waitUntil(() => document.getElementById('room-error').textContent !== '', `the form to refuse ${JSON.stringify(name)}`);
    assert.match(await alice.page.textContent('#room-error'), why);
    assert.equal(await alice.page.isVisible('#room-error'), true, 'the reason is on screen');
    assert.equal(await alice.page.inputValue('#room-name'), name, 'the name stays in the box');
    assert.deepEqual(await roomList(alice), [':in'], 'no room is added');
    if (name.startsWith('x')) await alice.screenshot('room-bad-name.png');
  }
  assert.deepEqual(alice.sent.filter((m) => m.messageType === 5 || m.messageType === 6), [], 'no Join was sent');

  // The server's refusals: a room the token does not allow (named in the reply) ...
  await alice.submitRoom('secret');
  await alice.waitUntil(() => /Could not join/.test(document.getElementById('room-error').textContent), 'the server\'s refusal');
  assert.equal(await alice.page.textContent('#room-error'), 'Could not join "secret": the token does not allow room "secret"');
  assert.equal(await alice.page.inputValue('#room-name'), 'secret');
  assert.deepEqual(await roomList(alice), [':in'], 'the room refused is not kept');
  assert.equal(await alice.shown(), '', 'back in the everyone conversation');
  assert.ok(alice.sent.some((m) => m.messageType === 5 && m.to === 'secret'), 'the Join was sent');
  const note = await alice.waitLine((l) => l.kind === 'error' && l.text.includes('the token does not allow room "secret"'), 'a note');
  assert.ok(note.local);
  await alice.screenshot('room-refused.png');

  // ... and one more than --max-rooms, where the reply names no room.
  await alice.joinRoom('ops');
  await alice.joinRoom('dev');
  await alice.submitRoom('qa');
  await alice.waitUntil(() => /Could not join "qa"/.test(document.getElementById('room-error').textContent), 'the refusal of qa');
  assert.match(await alice.page.textContent('#room-error'), /^Could not join "qa": .*max-rooms/);
  assert.deepEqual(await roomList(alice), [':in', 'ops:in', 'dev:in'], 'qa is not kept, the others are');
  assert.deepEqual(await members(srv, 'ops', tok), ['alice']);
  assert.deepEqual(await members(srv, 'qa', tok), []);
  assert.deepEqual((await stored(alice, 'alice')).rooms, ['ops', 'dev']);

  // A remembered room the token no longer allows would get the whole connect refused (403),
  // and so would more rooms than --max-rooms (400): the page leaves such a room out and says so.
  // (Written as the page goes, after the page's own last write of what it is in.)
  const remember = (rooms) => alice.page.evaluate((r) => window.addEventListener('pagehide', () => {
    const s = JSON.parse(localStorage.getItem('pusher.rooms.alice'));
    localStorage.setItem('pusher.rooms.alice', JSON.stringify({ ...s, rooms: r }));
  }), rooms);
  for (const [rooms, dropped, why] of [[['ops', 'secret'], 'secret', 'the token does not allow room "secret"'],
    [['ops', 'dev', 'qa'], 'qa', 'rooms: more rooms than --max-rooms allows']]) {
    await remember(rooms);
    await alice.page.reload({ waitUntil: 'load' });
    await alice.waitOnline();
    const line = await alice.waitLine((l) => l.kind === 'error' && l.text.includes(why), `why ${dropped} was dropped`);
    assert.equal(line.text, `Could not join "${dropped}" again: ${why}`);
    const kept = rooms.filter((r) => r !== dropped);
    assert.deepEqual(await roomList(alice), [':in', ...kept.map((r) => `${r}:in`)]);
    assert.equal(new URL(alice.sockets.at(-1)).searchParams.get('rooms'), kept.join(','));
    assert.deepEqual((await stored(alice, 'alice')).rooms, kept);
  }
  alice.assertClean([/status of 40[03]/]);
});

test('at a phone\'s width the rooms are reachable above the conversation, and the header stays one line', T, async (t) => {
  const srv = await h.serve(t);
  const bob = await joined(t, srv, 'bob');
  const alice = await joined(t, srv, 'alice', { context: PHONE });
  await bob.joinRoom('ops');
  assert.equal(await alice.page.isVisible('#room-name'), false, 'the join form is folded away at first');
  await alice.page.tap('#add-room');
  await alice.waitUntil(() => getComputedStyle(document.getElementById('join-room')).display !== 'none', 'the join form to open');
  await alice.page.fill('#room-name', 'ops');
  await alice.screenshot('rooms-phone-join.png');
  await alice.page.tap('#join-room button[type=submit]');
  await alice.waitUntil(() => [...document.querySelectorAll('#rooms li')].some((li) => li.dataset.room === 'ops' &&
    li.dataset.state === 'in'), 'alice to be in ops');
  assert.equal(await alice.page.isVisible('#room-name'), false, 'the form folds away again');
  await alice.joinRoom('incident-2291-payments-latency-eu-west'); // a long name in the row
  await alice.page.tap('#rooms li[data-room=""] .conv');
  await alice.waitUntil(() => document.getElementById('messages').dataset.room === '', 'the everyone conversation');

  await bob.say('on my way');
  await waitUnread(alice, 'ops', '1', 'bob\'s message in ops');
  const layout = await alice.page.evaluate(() => {
    const box = (el) => el.getBoundingClientRect().toJSON();
    const ops = [...document.querySelectorAll('#rooms li')].find((li) => li.dataset.room === 'ops');
    return {
      width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
      bar: box(document.querySelector('.bar')), status: box(document.getElementById('status')),
      line: parseFloat(getComputedStyle(document.getElementById('status')).lineHeight),
      rooms: box(document.getElementById('rooms')), ops: box(ops), online: box(document.getElementById('online')),
      messages: box(document.getElementById('messages')), input: box(document.getElementById('input')),
    };
  });
  const what = JSON.stringify(layout);
  assert.ok(layout.scrollWidth <= layout.width, `no sideways scrolling: ${what}`);
  assert.ok(layout.status.height < 1.6 * layout.line && layout.bar.height < 60, `the header is one line: ${what}`);
  assert.ok(layout.ops.left >= 0 && layout.ops.right <= layout.width && layout.ops.height > 20, `ops is on screen: ${what}`);
  assert.ok(layout.rooms.bottom <= layout.online.top + 1 && layout.online.bottom <= layout.messages.top + 1,
    `the rooms, then the people, sit above the messages: ${what}`);
  assert.ok(layout.input.width >= 200, `the message box is wide enough: ${what}`);
  await alice.screenshot('rooms-phone.png');

  await alice.page.tap('#rooms li[data-room="ops"] .conv');
  await waitUnread(alice, 'ops', '', 'opening ops');
  assert.deepEqual(texts(await alice.lines()), ['on my way']);
  await alice.say('see you there');
  await bob.waitRoomLine('ops', (l) => l.text === 'see you there', 'alice\'s reply from the phone');
  await alice.page.tap('#rooms li[data-room="ops"] .leave');
  await bob.waitRoomLine('ops', (l) => l.text === 'alice left', 'alice to leave ops from the phone');
  for (const p of [alice, bob]) p.assertClean();
});
