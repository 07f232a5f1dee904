'use strict';
// README.md's walk-through, run exactly as written, so that it never drifts
// from the program. Each ```console block in the section "Five minutes with
// curl and wscat" is one terminal, named by the comment above it
// (<!-- terminal: NAME -->; blocks with one name are one terminal, continued):
//
//   $ CMD        a command. `... make run` starts the server (on a free port,
//                through PUSHER_PORT and PUSHER_BIND: the README says 8080);
//                `npx wscat ...` runs in a pseudo-terminal, as a person
//                types into it; anything else runs to its end in sh, and
//                the lines below it are its whole output.
//   > TEXT       typed into that terminal's wscat, then Enter
//   ^C           Ctrl-C: wscat must exit
//   other lines  what the terminal shows next, in order
//
// 127.0.0.1:8080 becomes 127.0.0.1:PORT in every command. In messages,
// createAt, updateAt and id (the server's clock) compare as any number.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../e2e/helpers');

const ROOT = path.resolve(__dirname, '../..');
const TESTS = path.resolve(__dirname, '..');
const SECTION = '## Five minutes with curl and wscat';
const WAIT = Math.max(h.WAIT, 10000); // npx starts slowly on a busy machine

// The environment of a terminal: no make of ours leaking in, npx never
// reaching for the registry (the pinned wscat is in tests/node_modules).
function termEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(MAKEFLAGS|MFLAGS|MAKELEVEL|MAKEOVERRIDES|PUSHER_.*|npm_.*)$/.test(k)) env[k] = v;
  }
  // A person's terminal, also where CI has none (TERM unset or dumb).
  if (!env.TERM || env.TERM === 'dumb') env.TERM = 'xterm';
  return Object.assign(env, { npm_config_offline: 'true', npm_config_update_notifier: 'false' }, extra);
}

// ---------------------------------------------------------------- the README

function section(md) {
  const start = md.indexOf(`\n${SECTION}\n`);
  assert.ok(start >= 0, `README.md has no section "${SECTION}"`);
  const end = md.indexOf('\n## ', start + SECTION.length + 1);
  return md.slice(start, end < 0 ? md.length : end);
}

// [{ terminal, items: [{ cmd } | { type } | { interrupt } | { expect }] }]
function blocks(text) {
  const lines = text.split('\n');
  const out = [];
  let name = null;
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- terminal: ([a-z0-9-]+) -->$/.exec(lines[i]);
    if (marker) { name = marker[1]; continue; }
    if (!lines[i].startsWith('```')) continue;
    const fence = lines[i];
    assert.equal(fence, '```console', `the walk-through's code block at "${fence}" is not a \`console\` ` +
      'block: every command in it must be run by this test');
    assert.ok(name, `the walk-through's console block at line ${i} has no <!-- terminal: NAME --> above it`);
    const body = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
    const items = [];
    for (let j = 0; j < body.length; j++) {
      let l = body[j];
      if (l.startsWith('$ ')) {
        let cmd = l.slice(2);
        while (cmd.endsWith('\\') && j + 1 < body.length) cmd = `${cmd.slice(0, -1).trimEnd()} ${body[++j].trim()}`;
        items.push({ cmd });
      } else if (l.startsWith('> ')) {
        items.push({ type: l.slice(2) });
      } else if (l === '^C') {
        items.push({ interrupt: true });
      } else {
        items.push({ expect: l });
      }
    }
    out.push({ terminal: name, items });
    name = null;
  }
  return out;
}

const normal = (s) => s.replace(/"(createAt|updateAt|id)":\d+/g, '"$1":N');

// ---------------------------------------------------------------- terminals

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;

// A terminal's screen as lines: escape sequences gone, a line redrawn after
// \r read as what it ends as, prompts and echoes of typed lines left out.
function screenLines(raw) {
  return raw.replace(ANSI, '').split('\n')
    .map((l) => l.split('\r').filter((seg) => seg.trim() !== '').pop() || '')
    .map((l) => l.replace(/^[\u2800-\u28ff]+/, '').trimEnd()) // npx's spinner
    .filter((l) => l !== '' && l !== '>' && !l.startsWith('> '));
}

class Terminal {
  constructor(name) {
    this.name = name;
    this.proc = null;
    this.raw = '';
    this.taken = 0; // screen lines already matched
    this.exit = null;
  }

  // cmd runs in a pseudo-terminal (script(1)), in its own process group.
  start(cmd, cwd) {
    this.cmd = cmd;
    this.proc = spawn('script', ['-qfec', cmd, '/dev/null'], {
      cwd, env: termEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => {
      this.exit = { code, signal };
      resolve(this.exit);
    }));
    for (const s of [this.proc.stdout, this.proc.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => { this.raw += d; });
    }
  }

  type(text) { this.proc.stdin.write(`${text}\r`); }

  async expect(line) {
    const got = await h.waitFor(() => {
      const lines = screenLines(this.raw);
      if (lines.length > this.taken) return lines[this.taken];
      if (this.exit) throw new Error(`${this.name}: \`${this.cmd}\` ended (${JSON.stringify(this.exit)}) before showing ` +
        `${JSON.stringify(line)}; the screen: ${JSON.stringify(screenLines(this.raw))}`);
      return undefined;
    }, `${this.name}'s terminal to show ${JSON.stringify(line)}; it shows ${JSON.stringify(screenLines(this.raw))}`, WAIT);
    this.taken++;
    assert.equal(normal(got), normal(line), `${this.name}'s terminal shows something else than the README says`);
  }

  async interrupt() {
    this.proc.stdin.write('\x03');
    await h.withTimeout(this.exited, WAIT, `${this.name}'s wscat to exit on Ctrl-C`);
  }

  rest() { return screenLines(this.raw).slice(this.taken); }

  // Ctrl-C as a person would; the process group only if that is not enough.
  async kill() {
    if (!this.proc || this.exit) return;
    this.proc.stdin.write('\x03');
    try {
      await h.withTimeout(this.exited, 3000, `${this.name} to exit on Ctrl-C`);
    } catch {
      try { process.kill(-this.proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await h.withTimeout(this.exited, WAIT, `${this.name} to die`).catch(() => {});
    }
  }
}

// `... make run`, as written, in the repository; resolves with its port.
async function startServer(cmd) {
  const proc = spawn('sh', ['-c', cmd], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: termEnv({ PUSHER_PORT: '0', PUSHER_BIND: '127.0.0.1' }),
  });
  const srv = { proc, log: '', port: 0 };
  srv.exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { srv.log += d; });
  proc.stdout.resume();
  let ended = false;
  srv.exited.then(() => { ended = true; });
  srv.port = await h.waitFor(() => {
    const m = /\bevent=listen\b.*\bport=(\d+)/.exec(srv.log);
    if (m) return Number(m[1]);
    if (ended) throw new Error(`\`${cmd}\` ended before listening:\n${srv.log}`);
    return undefined;
  }, `\`${cmd}\` to listen`, 60000); // make may have to build first
  srv.stop = async () => {
    try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
    await h.withTimeout(srv.exited, WAIT, 'the server to stop').catch(() => {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    });
  };
  return srv;
}

function run(cmd) {
  return new Promise((resolve, reject) => {
    const proc = spawn('sh', ['-c', `${cmd} 2>&1`], { cwd: TESTS, env: termEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`\`${cmd}\` ran for over ${WAIT} ms`)); }, WAIT);
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

// ---------------------------------------------------------------- the tests

test('the README walk-through runs as written', { timeout: 180000 }, async (t) => {
  const steps = blocks(section(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')));
  assert.ok(steps.length >= 5, `the walk-through has only ${steps.length} console blocks`);
  const terms = new Map();
  let srv = null;
  t.after(async () => {
    for (const term of terms.values()) await term.kill();
    if (srv) await srv.stop();
  });
  const port = (cmd) => {
    assert.ok(srv, `\`${cmd}\` comes before the server is started`);
    const c = cmd.replaceAll('127.0.0.1:8080', `127.0.0.1:${srv.port}`);
    assert.ok(!/8080/.test(c), `\`${cmd}\` names port 8080 other than as 127.0.0.1:8080`);
    return c;
  };
  let commands = 0;

  for (const { terminal, items } of steps) {
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const term = terms.get(terminal);
      if (it.cmd && /(^|\s)make run$/.test(it.cmd)) {
        assert.equal(srv, null, 'the walk-through starts one server');
        srv = await startServer(it.cmd);
      } else if (it.cmd && it.cmd.startsWith('npx wscat ')) {
        assert.ok(!term || term.exit, `${terminal}: a new command while wscat still runs`);
        const tt = new Terminal(terminal);
        terms.set(terminal, tt);
        tt.start(port(it.cmd), TESTS);
      } else if (it.cmd) {
        const want = [];
        while (i + 1 < items.length && items[i + 1].expect !== undefined) want.push(items[++i].expect);
        const { code, out } = await run(port(it.cmd));
        assert.equal(code, 0, `\`${it.cmd}\` exited with ${code}: ${out}`);
        assert.deepEqual(out.split('\n').filter((l, k, a) => k < a.length - 1 || l !== '').map(normal),
          want.map(normal), `the output of \`${it.cmd}\``);
      } else {
        assert.ok(term && term.proc, `${terminal}: "${JSON.stringify(it)}" before any command`);
        if (it.type !== undefined) term.type(it.type);
        else if (it.interrupt) await term.interrupt();
        else await term.expect(it.expect);
      }
      if (it.cmd) commands++;
    }
  }
  assert.ok(srv, 'the walk-through starts the server with make run');
  assert.ok(commands >= 8, `only ${commands} commands in the walk-through`);
  for (const [name, term] of terms) {
    assert.deepEqual(term.rest(), [], `${name}'s terminal shows lines the README does not`);
  }
});

test('npx wscat is the one pinned in tests/package.json', { timeout: 60000 }, async () => {
  const pinned = JSON.parse(fs.readFileSync(path.join(TESTS, 'package.json'), 'utf8')).dependencies.wscat;
  assert.match(pinned, /^\d+\.\d+\.\d+$/, 'wscat is pinned to one exact version');
  const { code, out } = await run('npx wscat --version');
  assert.equal(code, 0, out);
  assert.equal(out.trim(), pinned);
});
