'use strict';
// The chat page as people meet it: real Chromium tabs against the real binary.
// Names are typed into the form and Join is pressed; messages are typed and
// sent with Enter; a private message starts with a click on a name.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const { sharedBrowser, ChatPage, WAIT } = require('./browser');

const T = { timeout: 90000 };
const browser = sharedBrowser(after);

// Every tab opened in a test is closed when it ends.
async function tab(t, srv, label, o) {
  const p = await ChatPage.open(await browser(), srv, label, o);
  t.after(() => p.close());
  return p;
}

async function joined(t, srv, name, o) {
  const p = await tab(t, srv, name, o);
  await p.join(name);
  return p;
}

const chat = (lines) => lines.filter((l) => l.kind === 'group' || l.kind === 'single');
const texts = (lines) => chat(lines).map((l) => l.text);

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

test('an over-long message is refused with a clear error, and the page recovers', T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1k']);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.say('a short one');
  await bob.waitLine((l) => l.text === 'a short one', 'the short message');

  const long = 'x'.repeat(3000);
  await alice.say(long);
  const failed = await alice.waitLine((l) => l.failed, 'the long message to be marked as not delivered');
  assert.equal(failed.note, 'not delivered: message too long');
  await alice.waitLine((l) => l.kind === 'error' && /message too long \(1009\)/.test(l.text),
    'an error line naming the cause');
  // It reconnects by itself, and the history it is sent again (with since=)
  // holds its own earlier message: still shown once.
  await alice.waitOnline(15000);
  await alice.say('shorter now');
  await bob.waitLine((l) => l.text === 'shorter now', 'the next message');
  assert.deepEqual(texts(await bob.lines()), ['a short one', 'shorter now'], 'bob never gets the long one');
  const mine = await alice.lines();
  assert.deepEqual(texts(mine), ['a short one', long, 'shorter now']);
  assertOnce(mine, 'alice');
  alice.assertClean();
});

test('a message to a user who left shows a clear error', T, async (t) => {
  const srv = await h.serve(t);
  const alice = await joined(t, srv, 'alice');
  const bob = await joined(t, srv, 'bob');
  await alice.waitUntil(() => !!document.querySelector('#online li[data-user="bob"]'), 'bob in alice\'s list');
  await alice.pick('bob');
  await bob.close();
  await alice.waitLine((l) => l.kind === 'offline' && l.text === 'bob left', 'bob to leave');
  await alice.say('are you still there?');
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
