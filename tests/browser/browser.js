'use strict';
// The chat page in a real browser: Debian's Chromium, driven by playwright-core
// (which never downloads a browser of its own here: executablePath points at
// the system one). ChatPage wraps one tab of the page the way a person uses
// it: type a name, press Join, type, press Enter, click a name in the list.
//
// Every wait is bounded and says what it waited for and what the page showed
// instead. Each browser launch gets a fresh profile (playwright-core makes a
// new --user-data-dir for it and removes it on close), so pages share nothing.

const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');
const h = require('../e2e/helpers');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(__dirname, '../out/browser');
const WAIT = Math.max(h.WAIT, 10000); // a browser on a busy two-core machine is slow

// What a container without a display, a GPU or a sandbox needs (we run as root).
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

async function launch() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: tests/setup installs Debian's chromium package (apt-get install chromium)`);
  }
  fs.mkdirSync(OUT, { recursive: true });
  return h.withTimeout(chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000 }),
    35000, `${CHROMIUM} to start`);
}

// A browser for the tests of one file, closed when they end.
function sharedBrowser(after) {
  let browser = null;
  after(async () => { if (browser) await h.withTimeout(browser.close(), 10000, 'the browser to close').catch(() => {}); });
  return async () => {
    if (!browser) browser = await launch();
    return browser;
  };
}

// The selector of a room's entry in the list (a CSS string: quotes and backslashes escaped).
const roomItem = (name) => `#rooms li[data-room="${name.replace(/["\\]/g, '\\$&')}"]`;

class ChatPage {
  constructor(context, page, label) {
    this.context = context;
    this.page = page;
    this.label = label;
    this.errors = []; // uncaught exceptions in the page
    this.console = []; // console errors (failed loads, failed sockets)
    this.http = []; // every HTTP answer the page got: { path, status }; status 0 for a failed request
    this.sockets = []; // the URL of every WebSocket the page opened
    this.sent = []; // every message the page sent on its WebSockets, parsed (or { text })
    page.on('pageerror', (e) => this.errors.push(e.message));
    const where = (url) => { const u = new URL(url); return u.pathname + u.search; };
    page.on('response', (r) => this.http.push({ path: where(r.url()), status: r.status() }));
    page.on('requestfailed', (r) => this.http.push({ path: where(r.url()), status: 0 }));
    page.on('websocket', (ws) => {
      this.sockets.push(ws.url());
      ws.on('framesent', (f) => {
        let m;
        try { m = JSON.parse(f.payload); } catch { m = { text: String(f.payload) }; }
        this.sent.push(m);
      });
    });
    page.on('console', (m) => { if (m.type() === 'error') this.console.push(m.text()); });
    page.setDefaultTimeout(WAIT);
  }

  // A new tab (in its own context: its own storage) on the server's page,
  // over https:// where the server speaks TLS (its test certificate is
  // self-signed, so the context takes it as it is). o.url opens another
  // address, o.context sets the context's options, and o.before(page) runs
  // before the page loads (to route its requests).
  static async open(browser, srv, label, o = {}) {
    const context = await browser.newContext({
      viewport: { width: 1000, height: 640 }, ignoreHTTPSErrors: !!srv.tls, ...o.context,
    });
    const page = await context.newPage();
    const p = new ChatPage(context, page, label);
    if (o.before) await o.before(page);
    const origin = `${srv.tls ? 'https' : 'http'}://127.0.0.1:${srv.port}`;
    await page.goto(o.url || `${origin}/`, { waitUntil: 'load', timeout: WAIT });
    return p;
  }

  // Types the name into the form and presses Join.
  async submitName(name) {
    this.name = name;
    await this.page.waitForSelector('#login:not([hidden])', { timeout: WAIT });
    await this.page.fill('#name', name);
    await this.page.click('#login button[type=submit]');
  }

  // Joins with the name, then waits until online.
  async join(name) {
    await this.submitName(name);
    await this.waitOnline();
  }

  async waitOnline(timeout = WAIT) {
    await this.waitUntil(() => {
      const s = document.getElementById('status');
      return s.dataset.state === 'online' && !document.getElementById('input').disabled;
    }, `${this.label} to be online`, timeout);
  }

  // Types text and presses Enter, as a person does.
  async say(text) {
    await this.page.fill('#input', text);
    await this.page.press('#input', 'Enter');
    await this.waitUntil(() => document.getElementById('input').value === '', `${this.label}'s message to leave the box`);
  }

  // Clicks a name in the list of people online: the next message goes to them alone.
  async pick(name) {
    await this.page.click(`#online li[data-user="${name}"] button`);
    await this.waitUntil((n) => document.getElementById('target').textContent === `to: ${n}`,
      `${this.label}'s target to become ${name}`, WAIT, name);
  }

  async everyone() {
    await this.page.click('#everyone');
    await this.waitUntil(() => document.getElementById('target').textContent === 'to: everyone',
      `${this.label}'s target to become everyone`);
  }

  // Every line of the conversation as shown: kind (group, single, online,
  // offline, system, error), whether it is our own, its header, text and id.
  async lines() {
    return (await this.roomLines(null)) || [];
  }

  // The conversations in the list as drawn: room ('' for everyone), state
  // ('in', 'joining', 'pending'), unread count as shown ('' for none), and
  // whether it is the one on screen.
  rooms() {
    return this.page.evaluate(() => [...document.querySelectorAll('#rooms li')].map((li) => ({
      room: li.dataset.room,
      state: li.dataset.state,
      unread: (li.querySelector('.unread') || {}).textContent || '',
      current: li.querySelector('.conv').getAttribute('aria-current') === 'true',
    })));
  }

  // The room shown ('' for everyone).
  shown() {
    return this.page.evaluate(() => document.getElementById('messages').dataset.room);
  }

  // The lines of one conversation, shown or not (room null: the one on
  // screen), in the form of lines(); null where there is no such one.
  roomLines(room) {
    return this.page.evaluate((r) => {
      const list = r === null ? document.getElementById('messages')
        : [...document.querySelectorAll('#convs > ol')].find((ol) => ol.dataset.room === r);
      if (!list) return null;
      return [...list.children].map((li) => ({
        kind: ['group', 'single', 'online', 'offline', 'error', 'system'].find((k) => li.classList.contains(k)) || '?',
        own: li.classList.contains('own'),
        local: li.classList.contains('local'),
        failed: li.classList.contains('failed'),
        kept: li.classList.contains('kept'),
        who: (li.querySelector('.from') || {}).textContent || '',
        text: (li.querySelector('.content') || {}).textContent || '',
        note: (li.querySelector('.note') || {}).textContent || '',
        id: li.dataset.id || '',
      }));
    }, room);
  }

  // Waits for a line of one conversation (shown or not) matching pred.
  async waitRoomLine(room, pred, what, timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const lines = await this.roomLines(room);
      const hit = lines && lines.find(pred);
      if (hit) return hit;
      if (Date.now() >= deadline) {
        throw new Error(`${this.label}: timed out after ${timeout} ms waiting for ${what} in room ${JSON.stringify(room)}; ` +
          `that room shows ${lines ? JSON.stringify(lines.map((l) => `${l.kind}:${l.who}:${l.text}`)) : '(no such room)'}; ` +
          `the page shows: ${await this.describe()}`);
      }
      await h.sleep(50);
    }
  }

  // Types a room's name into the join form (opening it where it is folded
  // away, at a phone's width) and presses Join.
  async submitRoom(name) {
    if (!(await this.page.isVisible('#room-name'))) await this.page.click('#add-room');
    await this.page.fill('#room-name', name);
    await this.page.click('#join-room button[type=submit]');
  }

  // Joins a room with the form and waits until the server has taken the join.
  async joinRoom(name) {
    await this.submitRoom(name);
    await this.waitUntil((r) => [...document.querySelectorAll('#rooms li')]
      .some((li) => li.dataset.room === r && li.dataset.state === 'in') &&
      document.getElementById('messages').dataset.room === r,
    `${this.label} to be in room ${name}, shown`, WAIT, name);
  }

  // Clicks a conversation in the list ('' for everyone) and waits until it is shown.
  async openRoom(name) {
    await this.page.click(`${roomItem(name)} .conv`);
    await this.waitUntil((r) => document.getElementById('messages').dataset.room === r,
      `${this.label} to show ${name ? `room ${name}` : 'everyone'}`, WAIT, name);
  }

  // Clicks a room's leave button and waits until it is gone from the list.
  async leaveRoom(name) {
    await this.page.click(`${roomItem(name)} .leave`);
    await this.waitUntil((r) => ![...document.querySelectorAll('#rooms li')].some((li) => li.dataset.room === r),
      `room ${name} to leave ${this.label}'s list`, WAIT, name);
  }

  online() {
    return this.page.evaluate(() => [...document.querySelectorAll('#online li')].map((li) => li.dataset.user));
  }

  // The list of people as drawn: each name's label, whether it is marked
  // offline, and the colour of its dot; and whether the list is still loading.
  people() {
    return this.page.evaluate(() => ({
      busy: document.getElementById('online').getAttribute('aria-busy') === 'true',
      users: [...document.querySelectorAll('#online li')].map((li) => {
        const b = li.querySelector('button');
        return { user: li.dataset.user, label: b.textContent, offline: b.classList.contains('offline'),
          dot: getComputedStyle(b, '::before').color };
      }),
    }));
  }

  // The HTTP answers the page got for a path (query left out), e.g. '/api/preflight'.
  answers(path) {
    return this.http.filter((r) => r.path.split('?')[0] === path);
  }

  // Polls fn in the page until it returns something truthy.
  async waitUntil(fn, what, timeout = WAIT, arg) {
    try {
      await this.page.waitForFunction(fn, arg, { timeout, polling: 50 });
    } catch (e) {
      throw new Error(`${this.label}: timed out after ${timeout} ms waiting for ${what}; ` +
        `the page shows: ${await this.describe()}`);
    }
  }

  // Waits for a line matching pred (run here, on lines()) and returns it.
  async waitLine(pred, what, timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const lines = await this.lines();
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() >= deadline) {
        throw new Error(`${this.label}: timed out after ${timeout} ms waiting for ${what}; ` +
          `the page shows: ${await this.describe()}`);
      }
      await h.sleep(50);
    }
  }

  // The conversation and the state of the page in short, for failure messages.
  async describe() {
    try {
      const [lines, online, shown] = await Promise.all([this.lines(), this.online(),
        this.page.evaluate(() => {
          const text = (id) => { const el = document.getElementById(id); return el && !el.hidden ? el.textContent : ''; };
          const rooms = [...document.querySelectorAll('#rooms li')].map((li) => li.dataset.room + ':' + li.dataset.state +
            ((li.querySelector('.unread') || {}).textContent ? ':' + li.querySelector('.unread').textContent : ''));
          const list = document.getElementById('messages');
          return { status: text('status'), login: text('login') && text('login-error'), note: text('composer-note'),
            roomError: text('room-error'), rooms, shown: list ? list.dataset.room : '(none)' };
        })]);
      const extra = Object.fromEntries(Object.entries({ login: shown.login, note: shown.note, roomError: shown.roomError })
        .filter(([, v]) => v));
      return h.clip(JSON.stringify({ status: shown.status, ...extra, rooms: shown.rooms, shown: shown.shown, online,
        lines: lines.map((l) => `${l.kind}:${l.who}:${l.text}${l.note ? ` [${l.note}]` : ''}`) }), 1500);
    } catch (e) {
      return `(cannot read the page: ${e.message})`;
    }
  }

  async screenshot(name) {
    const file = path.join(OUT, name);
    await this.page.screenshot({ path: file, timeout: WAIT });
    return file;
  }

  // No uncaught exception, and no console error other than those allowed.
  assertClean(allowed = []) {
    assert.deepEqual(this.errors, [], `${this.label}: uncaught errors in the page`);
    const bad = this.console.filter((c) => !allowed.some((re) => re.test(c)));
    assert.deepEqual(bad, [], `${this.label}: console errors in the page`);
  }

  async close() {
    await h.withTimeout(this.context.close(), WAIT, `${this.label}'s tab to close`).catch(() => {});
  }
}

// The tab helpers of a test file on its shared browser: tab() opens one,
// closed when the test ends; joined() opens one and joins as name.
function tabs(browser) {
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
  return { tab, joined };
}

module.exports = { CHROMIUM, OUT, WAIT, launch, sharedBrowser, tabs, ChatPage };
