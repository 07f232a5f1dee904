'use strict';
// The chat page as people meet it: real Chromium tabs against the real binary.
// Names are typed into the form and Join is pressed; messages are typed and
// sent with Enter; a private message starts with a click on a name.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const { sharedBrowser, tabs, WAIT } = require('./browser');

const T = { timeout: 90000 };
const browser = sharedBrowser(after);

// Every tab opened in a test is closed when it ends.
const { tab, joined } = tabs(browser);

const chat = (lines) => lines.filter((l) => l.kind === 'group' || l.kind === 'single');
const texts = (lines) => chat(lines).map((l) => l.text);

// The dot of someone online (--ok in style.css).
const GREEN = 'rgb(26, 127, 55)';

// While not connected, one's own name in the list must not look online.
async function assertSelfOffline(p, name) {
  const people = await p.people();
  const me = people.users.find((u) => u.user === name);
  assert.ok(me, `${p.label}: ${name} is not in the list: ${JSON.stringify(people)}`);
  assert.ok(me.offline && /offline/.test(me.label) && me.dot !== GREEN,
    `${p.label}: not connected, yet its own name looks online: ${JSON.stringify(me)}`);
}

// Waits until the list of people, loaded, holds exactly these names.
async function waitPeople(p, names, what) {
  await p.waitUntil((want) => {
    const list = document.getElementById('online');
    const have = [...list.querySelectorAll('li')].map((li) => li.dataset.user).sort();
    return list.getAttribute('aria-busy') !== 'true' && JSON.stringify(have) === JSON.stringify(want);
  }, `${what} (the list to be ${JSON.stringify(names)})`, WAIT, names.slice().sort());
}

// The page's own address for a query string.
const at = (srv, query = '') => `http://127.0.0.1:${srv.port}/${query ? `?${query}` : ''}`;

// Each chat line shown once: no text twice, no id twice.
function assertOnce(lines, label) {
  const seen = new Map();
  for (const l of chat(lines)) seen.set(l.text, (seen.get(l.text) || 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${label} shows a message more than once: ${JSON.stringify(texts(lines))}`);
  const ids = lines.map((l) => l.id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, `${label} shows an id twice: ${JSON.stringify(ids)}`);
}

test('three people chat in the group and see each other arrive', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.waitLine((l) => l.kind === 'online' && l.text === 'bob joined', 'bob to arrive');
  const carol = await joined(t, srv, 'carol');
  for (const [p, who] of [[alice, 'carol'], [bob, 'carol']]) {
    await p.waitLine((l) => l.kind === 'online' && l.text === `${who} joined`, `${who} to arrive`);
  }
  for (const p of [alice, bob, carol]) {
    await p.waitUntil(() => document.querySelectorAll('#online li').length === 3, `${p.label} to list three people`);
    assert.deepEqual((await p.online()).sort(), ['alice', 'bob', 'carol']);
  }

  await alice.say('Morning all! Release is at 4pm.');
  await bob.waitLine((l) => l.text === 'Morning all! Release is at 4pm.', 'alice\'s message');
  await bob.say('Thanks alice, I am on the notes.');
  await carol.waitLine((l) => l.text === 'Thanks alice, I am on the notes.', 'bob\'s message');
  await carol.say('I will watch the dashboards ✓');
  for (const p of [alice, bob, carol]) {
    await p.waitLine((l) => l.text === 'I will watch the dashboards ✓', 'carol\'s message');
    const lines = await p.lines();
    assert.deepEqual(texts(lines), ['Morning all! Release is at 4pm.', 'Thanks alice, I am on the notes.',
      'I will watch the dashboards ✓'], `${p.label} shows the conversation in order`);
    for (const l of chat(lines)) {
      assert.equal(l.kind, 'group');
      assert.equal(l.own, l.text.startsWith({ alice: 'Morning', bob: 'Thanks', carol: 'I will' }[p.label]),
        `${p.label}: only its own lines are marked as its own: ${JSON.stringify(l)}`);
    }
    assertOnce(lines, p.label);
  }
  const line = (await bob.lines()).find((l) => l.text.startsWith('Morning'));
  assert.equal(line.who, 'alice', 'a line says who wrote it');
  const own = (await alice.lines()).find((l) => l.text.startsWith('Morning'));
  assert.equal(own.who, 'you', 'one\'s own Group line says "you", as one\'s own Single does ("you → bob")');
  await bob.screenshot('chat.png');
  for (const p of [alice, bob, carol]) p.assertClean();
});

test('a Single message reaches its target alone', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  const carol = await joined(t, srv, 'carol');
  await alice.waitUntil(() => document.querySelectorAll('#online li').length === 3, 'alice to list three people');

  await alice.pick('bob');
  await alice.say('psst, bob: the password is in the vault');
  const got = await bob.waitLine((l) => l.text === 'psst, bob: the password is in the vault', 'alice\'s private message');
  assert.equal(got.kind, 'single');
  assert.equal(got.who, 'alice → you');
  const mine = (await alice.lines()).find((l) => l.text.startsWith('psst'));
  assert.equal(mine.kind, 'single');
  assert.equal(mine.who, 'you → bob');

  // The server routes alice's messages in order: once carol has the next
  // Group message, a leaked private one would already be on her page.
  await alice.everyone();
  await alice.say('back in the open');
  await carol.waitLine((l) => l.text === 'back in the open', 'alice\'s Group message');
  assert.deepEqual(texts(await carol.lines()), ['back in the open'], 'carol never sees the private message');
  await bob.waitLine((l) => l.text === 'back in the open', 'alice\'s Group message');
  assert.deepEqual(texts(await bob.lines()), ['psst, bob: the password is in the vault', 'back in the open']);
  for (const p of [alice, bob, carol]) p.assertClean();
});

test('a page sees others leave', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.waitUntil(() => !!document.querySelector('#online li[data-user="bob"]'), 'bob in alice\'s list');
  await bob.close();
  await alice.waitLine((l) => l.kind === 'offline' && l.text === 'bob left', 'bob to leave');
  await alice.waitUntil(() => !document.querySelector('#online li[data-user="bob"]'), 'bob to leave alice\'s list');
  assert.deepEqual(await alice.online(), ['alice']);
  alice.assertClean();
});

test('a newcomer sees the history', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.say('first');
  await bob.waitLine((l) => l.text === 'first', 'first');
  await bob.say('second');
  await alice.waitLine((l) => l.text === 'second', 'second');
  await alice.pick('bob');
  await alice.say('not for the history');
  await bob.waitLine((l) => l.text === 'not for the history', 'the private message');
  await alice.everyone();
  await alice.say('third');
  await bob.waitLine((l) => l.text === 'third', 'third');

  const carol = await joined(t, srv, 'carol');
  await carol.waitLine((l) => l.text === 'third', 'the history to arrive');
  const lines = await carol.lines();
  assert.deepEqual(lines.filter((l) => !l.local).map((l) => `${l.kind}:${l.who}:${l.text}`), [
    'online::alice joined', 'online::bob joined', 'group:alice:first', 'group:bob:second', 'group:alice:third',
  ], 'carol sees the Group messages and arrivals before her, oldest first, and no private message');
  assert.deepEqual((await carol.online()).sort(), ['alice', 'bob', 'carol'], 'the history tells carol who is here');
  assertOnce(lines, 'carol');
  carol.assertClean();
});

test('the server restarts under open pages: each reconnects by itself and shows every message once', T, async (t) => {
  let srv = await h.startServer();
  t.after(() => srv.stop());
  const port = srv.port;
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  const carol = await joined(t, srv, 'carol');
  await alice.say('before the restart');
  await bob.waitLine((l) => l.text === 'before the restart', 'the first message');
  await carol.waitLine((l) => l.text === 'before the restart', 'the first message');
  await bob.say('still before');
  await alice.waitLine((l) => l.text === 'still before', 'the second message');
  await carol.waitLine((l) => l.text === 'still before', 'the second message');
  // The pages must not be reloaded: this mark would be gone.
  for (const p of [alice, bob, carol]) await p.page.evaluate(() => { window.sameDocument = true; });

  await srv.stop();
  for (const p of [alice, bob, carol]) {
    await p.waitLine((l) => l.local && /^disconnected: server going away \(1001\)/.test(l.text),
      'the page to say the server went away');
  }
  srv = await h.startServer(['--bind', '127.0.0.1', '--port', String(port)], { bare: true });
  for (const p of [alice, bob, carol]) await p.waitOnline(15000);

  await carol.say('after the restart');
  await alice.pick('bob');
  await alice.say('a private one after the restart');
  await bob.say('me too');
  for (const p of [alice, bob, carol]) {
    await p.waitLine((l) => l.text === 'after the restart', 'the message after the restart');
    await p.waitLine((l) => l.text === 'me too', 'bob\'s message after the restart');
  }
  await bob.waitLine((l) => l.text === 'a private one after the restart', 'the private message');
  for (const p of [alice, bob, carol]) {
    assert.equal(await p.page.evaluate(() => window.sameDocument), true, `${p.label} reconnected without a reload`);
    const lines = await p.lines();
    assertOnce(lines, p.label);
    const want = ['before the restart', 'still before', 'after the restart', 'me too'];
    if (p !== carol) want.splice(3, 0, 'a private one after the restart');
    assert.deepEqual(texts(lines).slice().sort(), want.slice().sort(), `${p.label} shows each message once`);
    // The refused connects while the server was down are logged by the browser itself.
    p.assertClean([/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/]);
  }
});

test('a message over the server\'s limit is refused by the page itself, and the connection stays up', T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1k']);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.say('a short one');
  await bob.waitLine((l) => l.text === 'a short one', 'the short message');

  // The bytes of what the page sends for a Group message (createAt has 13 digits until 2286),
  // and a content that makes it n bytes, mostly of two-byte characters: a page that counted
  // characters instead of UTF-8 bytes would send the one byte over.
  const size = (content) => Buffer.byteLength(JSON.stringify({ messageType: 1, mediaType: 0, to: '', content, createAt: Date.now() }));
  const ofBytes = (n) => { const k = n - size(''); return 'é'.repeat(Math.floor(k / 2)) + 'x'.repeat(k % 2); };
  const exact = ofBytes(1024);
  const over = ofBytes(1025);
  assert.equal(size(exact), 1024);
  assert.equal(size(over), 1025);
  assert.ok(over.length < 1024, 'one byte over, yet well under the limit in characters');

  for (const text of ['x'.repeat(3000), over]) {
    await alice.page.fill('#input', text);
    await alice.page.press('#input', 'Enter');
    await alice.waitUntil(() => !document.getElementById('composer-note').hidden, 'a note under the composer');
    const note = await alice.page.textContent('#composer-note');
    assert.match(note, new RegExp(`^Too long to send: ${size(text)} bytes .*at most 1024\\b`), 'the note says how long and the limit');
    assert.equal(await alice.page.inputValue('#input'), text, 'the message stays in the box, to be shortened');
    assert.equal(await alice.page.isVisible('#composer-note'), true, 'the note is on screen');
  }
  await alice.screenshot('too-long.png');

  // Exactly the limit is accepted; typing takes the note away.
  await alice.page.fill('#input', exact);
  assert.equal(await alice.page.isVisible('#composer-note'), false, 'the note goes once the text changes');
  await alice.page.press('#input', 'Enter');
  await alice.waitUntil(() => document.getElementById('input').value === '', 'the message of exactly the limit to be sent');
  await bob.waitLine((l) => l.text === exact, 'the message of exactly the limit');
  await alice.say('shorter now');
  await bob.waitLine((l) => l.text === 'shorter now', 'the next message');

  assert.deepEqual(texts(await bob.lines()), ['a short one', exact, 'shorter now'], 'bob gets all but the refused ones');
  const comings = (await bob.lines()).filter((l) => l.kind === 'offline' || l.kind === 'online').map((l) => l.text);
  assert.deepEqual(comings, ['alice joined'], 'bob never sees alice leave and come back');
  const mine = await alice.lines();
  assert.deepEqual(texts(mine), ['a short one', exact, 'shorter now']);
  assert.deepEqual(mine.filter((l) => l.local || l.failed), [], 'alice\'s connection never dropped');
  assert.equal(alice.sockets.length, 1, `alice's page kept its one WebSocket: ${JSON.stringify(alice.sockets)}`);
  assertOnce(mine, 'alice');

  // A client that sends one anyway is still closed with 1009, and seen to leave.
  const dave = await h.connect(srv, 'dave');
  dave.sendText(JSON.stringify({ messageType: 1, mediaType: 0, content: 'x'.repeat(2000) }));
  await dave.expectClose(1009);
  await alice.waitLine((l) => l.kind === 'offline' && l.text === 'dave left', 'dave to be closed and leave');
  for (const p of [alice, bob]) p.assertClean();
});

// alice picks bob, bob leaves, and alice writes to him all the same.
async function toOneWhoLeft(t, srv) {
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.waitUntil(() => !!document.querySelector('#online li[data-user="bob"]'), 'bob in alice\'s list');
  await alice.pick('bob');
  await bob.close();
  await alice.waitLine((l) => l.kind === 'offline' && l.text === 'bob left', 'bob to leave');
  await alice.say('are you still there?');
  return alice;
}

test('a message to a user who left is kept: the line says so, and it reaches them when they come back', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await toOneWhoLeft(t, srv);
  const kept = await alice.waitLine((l) => l.kept, 'the line marked kept');
  assert.equal(kept.text, 'are you still there?');
  assert.equal(kept.who, 'you → bob');
  assert.equal(kept.note, 'bob is offline: delivered when they come back');
  assert.ok(!(await alice.lines()).some((l) => l.kind === 'error' || l.kind === 'system' && /queued/.test(l.text)),
    'the queued: reply is the mark on the line, not a line of its own');
  await alice.everyone();
  await alice.say('meanwhile, in the open');

  const bob2 = await joined(t, srv, 'bob');
  const got = await bob2.waitLine((l) => l.text === 'are you still there?', 'the kept message');
  assert.equal(got.kind, 'single');
  assert.equal(got.who, 'alice → you');
  // In its place: before what alice said in the open after it.
  const order = texts(await bob2.lines());
  assert.deepEqual(order.slice(-2), ['are you still there?', 'meanwhile, in the open'], JSON.stringify(order));
  await alice.pick('bob');
  await alice.screenshot('kept.png');
  for (const p of [alice, bob2]) p.assertClean();
});

test('with --offline-max 0, a message to a user who left shows a clear error', T, async (t) => {
  const srv = await h.serve(t, ['--offline-max', '0']);
  const alice = await toOneWhoLeft(t, srv);
  const err = await alice.waitLine((l) => l.kind === 'error', 'an error line');
  assert.equal(err.text, 'error: user "bob" is not online');
  const visible = await alice.page.isVisible('#messages li.error');
  assert.ok(visible, 'the error is on screen');
  alice.assertClean();
});

test('the page works at a phone\'s width', T, async (t) => {
  const srv = await h.serve(t);
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
  const bob = await joined(t, srv, 'bob');
  const alice = await joined(t, srv, 'alice', { context: phone });
  await bob.say('Are you on the train?');
  await alice.waitLine((l) => l.text === 'Are you on the train?', 'bob\'s message');
  await alice.page.tap('#online li[data-user="bob"] button');
  await alice.waitUntil(() => document.getElementById('target').textContent === 'to: bob', 'bob as target');
  await alice.say('Yes, typing this one on my phone: back at 9, with a long line that has to wrap on a narrow screen.');
  await bob.waitLine((l) => l.kind === 'single' && l.text.startsWith('Yes, typing'), 'alice\'s reply');

  const layout = await alice.page.evaluate(() => {
    const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
    const bubbles = [...document.querySelectorAll('#messages li')].map((li) => li.getBoundingClientRect().toJSON());
    return {
      width: window.innerWidth, height: window.innerHeight,
      scrollWidth: document.documentElement.scrollWidth,
      input: box('input'), send: box('send'), online: box('online'), messages: box('messages'), bubbles,
    };
  });
  assert.equal(layout.width, 390);
  assert.ok(layout.scrollWidth <= layout.width, `no sideways scrolling: the page is ${layout.scrollWidth}px wide`);
  for (const k of ['input', 'send']) {
    const b = layout[k];
    assert.ok(b.left >= 0 && b.right <= layout.width && b.bottom <= layout.height && b.width > 30,
      `#${k} is on screen: ${JSON.stringify(b)}`);
  }
  assert.ok(layout.input.width >= 200, `the message box is wide enough to type in: ${layout.input.width}px`);
  assert.ok(layout.online.bottom <= layout.messages.top + 1, 'the people online sit above the messages');
  for (const b of layout.bubbles) assert.ok(b.right <= layout.width, `a message runs off screen: ${JSON.stringify(b)}`);
  await alice.screenshot('chat-phone.png');
  for (const p of [alice, bob]) p.assertClean();
});

test('who is online is set right after a restart: one who left while the server was down is gone', T, async (t) => {
  let srv = await h.startServer();
  t.after(() => srv.stop());
  const port = srv.port;
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await waitPeople(alice, ['alice', 'bob'], 'bob in alice\'s list');

  await srv.stop();
  await alice.waitLine((l) => l.local && /^disconnected: server going away/.test(l.text), 'the page to say the server went away');
  await bob.close(); // no server to tell anyone
  await assertSelfOffline(alice, 'alice');
  srv = await h.startServer(['--bind', '127.0.0.1', '--port', String(port)], { bare: true });
  await alice.waitOnline(15000);
  await waitPeople(alice, ['alice'], 'bob to be gone from alice\'s list after the restart');
  const people = await alice.people();
  assert.deepEqual(people.users.map((u) => [u.label, u.offline, u.dot]), [['alice (you)', false, GREEN]],
    'back online, alice\'s own name is online again');

  const carol = await joined(t, srv, 'carol');
  await waitPeople(alice, ['alice', 'carol'], 'carol to arrive in alice\'s list');
  await waitPeople(carol, ['alice', 'carol'], 'carol to list alice');
  alice.assertClean([/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/]);
  carol.assertClean();
});

test('one who has been online for longer than the history reaches is listed all the same', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await h.connect(srv, 'bob'); // a client of its own, not the page
  await waitPeople(alice, ['alice', 'bob'], 'bob in alice\'s list');
  for (let i = 1; i <= 110; i++) {
    const r = await h.push(srv, { messageType: 2, content: `notice ${i}` });
    assert.equal(r.status, 200, `push ${i} answered ${r.status} ${r.body}`);
  }
  const carol = await joined(t, srv, 'carol');
  await carol.waitLine((l) => l.text === 'notice 110', 'the history to arrive');
  const lines = await carol.lines();
  assert.deepEqual(lines.filter((l) => l.kind === 'online' || l.kind === 'offline'), [],
    'the history carol gets holds nobody\'s arrival');
  const notices = lines.filter((l) => l.kind === 'system' && !l.local).map((l) => l.text);
  assert.equal(notices.length, 100, `the history's lines still appear: the last 100: ${h.clip(JSON.stringify(notices))}`);
  assert.equal(notices[0], 'notice 11');
  await waitPeople(carol, ['alice', 'bob', 'carol'], 'carol to list alice and bob, who came before her history begins');
  assert.equal(bob.isOpen, true);
  for (const p of [alice, carol]) p.assertClean();
});

test('presence events that come while /api/online is pending are applied after its answer', T, async (t) => {
  const srv = await h.serve(t);
  const bob = await h.connect(srv, 'bob');
  let taken, release;
  const asked = new Promise((resolve) => { taken = resolve; });
  const gate = new Promise((resolve) => { release = resolve; });
  // The server answers at once, but its answer reaches the page only when the test says.
  const alice = await tab(t, srv, 'alice', {
    before: (page) => page.route(/\/api\/online(\?|$)/, async (route) => {
      try {
        const answer = await route.fetch();
        taken(await answer.json());
        await gate;
        await route.fulfill({ response: answer });
      } catch { /* the tab closed first */ }
    }),
  });
  await alice.join('alice');
  const list = await h.withTimeout(asked, WAIT, 'alice\'s page to ask /api/online');
  assert.deepEqual(list.users, ['alice', 'bob'], `the server's list: ${JSON.stringify(list)}`);

  await bob.close();
  const carol = await h.connect(srv, 'carol');
  const left = await alice.waitLine((l) => l.kind === 'offline' && l.text === 'bob left', 'bob to leave');
  const came = await alice.waitLine((l) => l.kind === 'online' && l.text === 'carol joined', 'carol to arrive');
  assert.ok(Number(left.id) > list.id && Number(came.id) > list.id, `both are newer than the answer (id ${list.id}): ${left.id}, ${came.id}`);
  assert.equal((await alice.people()).busy, true, 'the list is marked as loading while /api/online is pending');

  release();
  await waitPeople(alice, ['alice', 'carol'], 'the answer, then the events newer than it: bob gone, carol there');
  assert.equal(carol.isOpen, true);
  alice.assertClean();
});

test('presence events that the /api/online answer already counts are not applied again', T, async (t) => {
  const srv = await h.serve(t);
  let asking, go;
  const asked = new Promise((resolve) => { asking = resolve; });
  const gate = new Promise((resolve) => { go = resolve; });
  let holding = false;
  const late = []; // what the server sent the page's socket while the network was slow
  let toPage = null;
  const alice = await tab(t, srv, 'alice', {
    before: async (page) => {
      // /api/online asks the server only when the test says...
      await page.route(/\/api\/online(\?|$)/, async (route) => {
        asking();
        try {
          await gate;
          await route.fulfill({ response: await route.fetch() });
        } catch { /* the tab closed first */ }
      });
      // ...and the WebSocket passes the server's messages on at once, or holds them.
      await page.routeWebSocket(/\/websocket/, (ws) => {
        toPage = ws;
        const server = ws.connectToServer();
        server.onMessage((m) => { if (holding) late.push(m); else ws.send(m); });
      });
    },
  });
  await alice.join('alice');
  await h.withTimeout(asked, WAIT, 'alice\'s page to ask /api/online');
  const bob = await h.connect(srv, 'bob');
  await alice.waitLine((l) => l.kind === 'online' && l.text === 'bob joined', 'bob to arrive');
  holding = true;
  await bob.close();
  await h.waitFor(() => late.length > 0, 'bob\'s leaving to reach the page\'s socket');
  // The list, taken now, overtakes bob's leaving: it holds both bob's arrival and his leave.
  go();
  await alice.waitUntil(() => document.getElementById('online').getAttribute('aria-busy') !== 'true',
    'the answer of /api/online');
  assert.deepEqual(await alice.online(), ['alice'], 'bob\'s arrival, older than the answer, must not put him back');

  holding = false;
  for (const m of late.splice(0)) toPage.send(m);
  await alice.waitLine((l) => l.kind === 'offline' && l.text === 'bob left', 'bob\'s leaving, late, still shown in the conversation');
  assert.deepEqual(await alice.online(), ['alice']);
  alice.assertClean();
});

test('a token the server does not take: the page shows its reason and stops retrying', T, async (t) => {
  const SECRET = 'browser-test-secret';
  const srv = await h.serve(t, ['--secret', SECRET]);
  const tok = (sub) => h.makeJwt({ sub }, SECRET);

  // With a good token one gets in, and the list comes from /api/online with the same token.
  const bob = await tab(t, srv, 'bob', { url: at(srv, `userId=bob&token=${tok('bob')}`) });
  await bob.waitOnline();
  const carol = await tab(t, srv, 'carol', { url: at(srv, `userId=carol&token=${tok('carol')}`) });
  await carol.waitOnline();
  await waitPeople(carol, ['bob', 'carol'], 'carol to list bob');
  await waitPeople(bob, ['bob', 'carol'], 'bob to list carol');
  assert.deepEqual(carol.answers('/api/online').map((r) => r.status), [200], 'the page reads /api/online with its token');

  const cases = [['alice', 'userId=alice&token=not-a-token'], ['mallory', `userId=mallory&token=${tok('bob')}`],
    ['dave', 'userId=dave']];
  const pages = [];
  for (const [name, query] of cases) {
    const res = await h.get(srv, `/api/preflight?${query}`);
    assert.equal(res.status, 401, `/api/preflight?${query} answered ${res.status} ${res.body}`);
    const why = res.body.trim(); // the server's own words
    const p = await tab(t, srv, name, { url: at(srv, query) });
    pages.push([p, name, why]);
  }
  for (const [p, name, why] of pages) {
    const line = await p.waitLine((l) => l.kind === 'error' && l.text.includes(why), `the server's reason "${why}"`);
    assert.match(line.text, /\(401\)\. Not retrying/, 'the line gives the status and says it will not retry');
    await p.waitUntil(() => document.getElementById('status').dataset.state === 'refused', 'the status to say refused');
    await assertSelfOffline(p, name);
  }
  await pages[0][0].screenshot('refused-token.png');
  await h.sleep(3000); // a page that retried would have asked again two or three times by now
  for (const [p, name, why] of pages) {
    assert.deepEqual(p.answers('/api/preflight').map((r) => r.status), [401], `${name}: asked once, and never again`);
    assert.deepEqual(p.sockets, [], `${name}: opened no WebSocket`);
    const status = await p.page.textContent('#status');
    assert.ok(status.includes(why), `${name}: the status says why: ${status}`);
    assert.equal(await p.page.isDisabled('#input'), true, `${name}: nothing can be typed`);
    p.assertClean([/status of 401/]);
  }
  for (const p of [bob, carol]) p.assertClean();
});

test('an Origin the server does not allow: the page says so and stops; the allowed one gets in', T, async (t) => {
  // The allowed Origin names the port, so take a free one first.
  const probe = await h.startServer();
  const port = probe.port;
  await probe.stop();
  const scheme = h.TLS_SUITE ? 'https' : 'http'; // the page's own, under browser-tls
  const srv = await h.startServer(['--bind', '127.0.0.1', '--port', String(port),
    '--allowed-origin', `${scheme}://127.0.0.1:${port}`], { bare: true });
  t.after(() => srv.stop());
  const alice = await joined(t, srv, 'alice');
  const bob = await tab(t, srv, 'bob', { url: `${scheme}://localhost:${port}/` });
  await bob.submitName('bob');
  const why = 'this Origin is not allowed';
  const line = await bob.waitLine((l) => l.kind === 'error' && l.text.includes(why), 'the server\'s reason');
  assert.match(line.text, /\(403\)\. Not retrying/);
  await bob.waitUntil(() => document.getElementById('status').dataset.state === 'refused', 'the status to say refused');
  await assertSelfOffline(bob, 'bob');
  await bob.screenshot('refused-origin.png');
  await h.sleep(3000);
  assert.deepEqual(bob.answers('/api/preflight').map((r) => r.status), [403], 'asked once, and never again');
  assert.deepEqual(bob.sockets, [], 'opened no WebSocket');
  assert.deepEqual(await alice.online(), ['alice'], 'alice never saw bob');
  alice.assertClean();
  bob.assertClean([/status of 403/]);
});

test('a full server: the page says why, keeps trying, and gets in once there is room', T, async (t) => {
  const srv = await h.serve(t, ['--max-connections', '1']);
  const alice = await joined(t, srv, 'alice');
  const res = await h.get(srv, '/api/preflight?userId=bob');
  assert.equal(res.status, 503, `/api/preflight answered ${res.status} ${res.body}`);
  const why = res.body.trim();
  const bob = await tab(t, srv, 'bob');
  await bob.submitName('bob');
  await bob.waitLine((l) => l.kind === 'error' && l.text.includes(why), `the server's reason "${why}"`);
  await bob.waitUntil((w) => {
    const s = document.getElementById('status');
    return s.dataset.state === 'reconnecting' && s.textContent.includes(w);
  }, 'a countdown to the next try, with the reason', WAIT, why);
  await assertSelfOffline(bob, 'bob');
  await bob.screenshot('server-full.png');

  await alice.close();
  await bob.waitOnline(25000);
  await waitPeople(bob, ['bob'], 'bob alone in his list');
  const refusals = bob.answers('/api/preflight').filter((r) => r.status === 503).length;
  assert.ok(refusals >= 1, 'bob was refused at least once');
  const said = (await bob.lines()).filter((l) => l.text.includes(why)).length;
  assert.equal(said, 1, `the reason is said once, not at each of ${refusals} tries`);
  bob.assertClean([/status of 503/]);
});

test('a name the page or the server cannot use: the join form says why', T, async (t) => {
  const srv = await h.serve(t);
  const cases = [['x'.repeat(65), /at most 64 bytes of UTF-8; this one has 65/], ['a\u0001b', /control characters/]];
  for (const [name, why] of cases) {
    const p = await tab(t, srv, JSON.stringify(name).slice(0, 12), { url: at(srv, `userId=${encodeURIComponent(name)}`) });
    await p.waitUntil(() => !document.getElementById('login').hidden, 'the join form');
    const err = await p.page.textContent('#login-error');
    assert.match(err, /^The name given in the page's address as \?userId= cannot be used\. /, 'the form says where the name came from');
    assert.match(err, why);
    assert.equal(await p.page.isVisible('#login-error'), true, 'the reason is on screen');
    assert.equal(await p.page.inputValue('#name'), name, 'the name is in the box, to be mended');
    assert.deepEqual(p.answers('/api/preflight'), [], 'nothing was asked of the server');
    if (name.startsWith('x')) await p.screenshot('bad-name.png');
    p.assertClean();
  }
  // Where the server's rules are stricter than the page's, its reason shows on the form too.
  const p = await tab(t, srv, 'root', {
    before: (page) => page.route(/\/api\/preflight/, (route) => route.fulfill({
      status: 400, contentType: 'text/plain; charset=utf-8', body: 'userId "root" is reserved\n' })),
  });
  await p.submitName('root');
  await p.waitUntil(() => !document.getElementById('login').hidden && document.getElementById('login-error').textContent,
    'the join form again, with the server\'s reason');
  assert.equal(await p.page.textContent('#login-error'), 'The server refused the name "root": userId "root" is reserved');
  assert.deepEqual(p.sockets, [], 'opened no WebSocket');
  p.assertClean([/status of 400/]);
});

test('at a phone\'s width the header stays one line whatever the status says', T, async (t) => {
  const srv = await h.serve(t);
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
  const alice = await joined(t, srv, 'alexandra.from.accounts', { context: phone });
  // The header and what is below it, with the status text as it is or as given.
  const measure = (text) => alice.page.evaluate((txt) => {
    const s = document.getElementById('status');
    if (txt) s.textContent = txt;
    const box = (el) => el.getBoundingClientRect().toJSON();
    const bar = document.querySelector('.bar');
    return {
      text: s.textContent, bar: box(bar), status: box(s), messages: box(document.getElementById('messages')),
      parts: [...bar.children].filter((el) => !el.hidden).map((el) => ({ el: el.id || el.tagName, ...box(el) })),
      line: parseFloat(getComputedStyle(s).lineHeight), clipped: s.scrollWidth > s.clientWidth,
      ellipsis: getComputedStyle(s).textOverflow,
    };
  }, text);
  const online = await measure();
  await srv.stop();
  await alice.waitUntil(() => /^reconnecting in \d+s · /.test(document.getElementById('status').textContent),
    'the countdown to reconnect');
  const reconnecting = await measure();
  await alice.screenshot('phone-reconnecting.png');
  const long = await measure('reconnecting in 15s · ' + 'the server is at its connection limit; try again later '.repeat(3));
  for (const m of [online, reconnecting, long]) {
    const what = `with the status "${m.text}": ${JSON.stringify(m)}`;
    assert.equal(m.bar.height, online.bar.height, `the header keeps its height ${what}`);
    assert.equal(m.messages.top, online.messages.top, `the conversation does not move ${what}`);
    assert.ok(m.status.height < 1.6 * m.line, `the status is one line ${what}`);
    for (const part of m.parts) {
      assert.ok(part.top >= m.bar.top && part.bottom <= m.bar.bottom && part.right <= 390,
        `${part.el} sits inside the header ${what}`);
    }
  }
  assert.equal(long.ellipsis, 'ellipsis');
  assert.ok(long.clipped, 'a long status is cut short');
  await assertSelfOffline(alice, 'alexandra.from.accounts');
  alice.assertClean([/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/]);
});
