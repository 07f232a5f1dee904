'use strict';
// Shared by the deployment tests: running programs with a bound, `make
// install` into a scratch root, what `pusher --help` lists, the man page as
// text, and contrib/pusher.service read as systemd reads it.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.resolve(__dirname, '../out/deploy');
const UNIT = path.join(ROOT, 'contrib/pusher.service');

// The environment without our own make's variables (a make run from a test
// must not join `make check`'s jobserver) nor stray PUSHER_ twins of flags.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(MAKEFLAGS|MFLAGS|MAKELEVEL|MAKEOVERRIDES|PUSHER_.*)$/.test(k)) env[k] = v;
  }
  return Object.assign(env, extra);
}

// Runs cmd to its end (killed after o.timeout ms); stdout and stderr together.
function run(cmd, args, o = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: o.cwd || ROOT, env: cleanEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for (const s of [proc.stdout, proc.stderr]) { s.setEncoding('utf8'); s.on('data', (d) => { out += d; }); }
    const timeout = o.timeout || 30000;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`\`${cmd} ${args.join(' ')}\` ran for over ${timeout} ms: ${out}`));
    }, timeout);
    proc.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot run ${cmd}: ${e.message}`)); });
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

// make install DESTDIR=dest PREFIX=prefix, into a fresh dest.
async function makeInstall(dest, prefix) {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const r = await run('make', ['--no-print-directory', 'install', `DESTDIR=${dest}`, `PREFIX=${prefix}`], { timeout: 120000 });
  assert.equal(r.code, 0, `make install failed:\n${r.out}`);
  return r;
}

// Every option of `pusher --help`: { usage, env, default } (env and default
// are absent for -h and -V).
async function helpFlags() {
  const r = await run(path.join(ROOT, 'pusher'), ['--help']);
  assert.equal(r.code, 0, r.out);
  const flags = [];
  for (const line of r.out.split('\n')) {
    let m = /^ {2}(--[a-z-]+(?:=[A-Z]+)?) {2}\((PUSHER_[A-Z_]+), default ([^)]*)\)$/.exec(line);
    if (m) { flags.push({ usage: m[1], env: m[2], default: m[3] }); continue; }
    m = /^ {2}(-[a-zA-Z], --[a-z-]+)$/.exec(line);
    if (m) flags.push({ usage: m[1] });
  }
  return flags;
}

// The page as man shows it, one line per output line with spaces collapsed,
// wide enough that no option's first line wraps, and in ASCII.
async function manText(page) {
  const r = await run('man', ['-l', page], { env: { MANWIDTH: '250', LC_ALL: 'C', MAN_KEEP_FORMATTING: '' } });
  assert.equal(r.code, 0, `man -l ${page}: ${r.out}`);
  return r.out.replace(/.\x08/g, '').split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).join('\n');
}

// contrib/pusher.service as { Section: [[key, value], ...] }.
function readUnit(file = UNIT) {
  const unit = {};
  let section = null;
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([A-Za-z]+)\]$/.exec(line);
    if (s) { section = s[1]; unit[section] = unit[section] || []; continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `contrib/pusher.service: cannot read ${JSON.stringify(raw)}`);
    unit[section].push([kv[1], kv[2]]);
  }
  return unit;
}

// The last value of key in section, as systemd takes it for single settings.
function setting(unit, section, key) {
  const all = (unit[section] || []).filter(([k]) => k === key);
  return all.length ? all[all.length - 1][1] : undefined;
}

// The Environment= lines of [Service] as an object.
function unitEnv(unit) {
  const env = {};
  for (const [k, v] of unit.Service || []) {
    if (k !== 'Environment') continue;
    for (const pair of v.split(/\s+/).filter(Boolean)) {
      const m = /^"?([A-Z_][A-Z0-9_]*)=([^"]*)"?$/.exec(pair);
      assert.ok(m, `Environment= item ${JSON.stringify(pair)} is not NAME=VALUE`);
      env[m[1]] = m[2];
    }
  }
  return env;
}

module.exports = { ROOT, OUT, UNIT, cleanEnv, run, makeInstall, helpFlags, manText, readUnit, setting, unitEnv };
