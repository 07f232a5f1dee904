'use strict';
// The binary alone is the whole deployment: copied into an empty directory
// and started there, it serves the chat page, which works in a browser.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../e2e/helpers');
const { sharedBrowser, ChatPage } = require('../browser/browser');
const { ROOT, OUT } = require('./deploy');

const browser = sharedBrowser(after);

// True when the ELF file has no PT_INTERP program header: no dynamic loader,
// no shared library to bring along.
function isStatic(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 0, 4), '\x7fELF', `${file} is not an ELF file`);
  assert.equal(b[4], 2, 'a 64-bit ELF file');
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (b.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  }
  return true;
}

test('the binary alone, in an empty directory, serves the chat page', { timeout: 90000 }, async (t) => {
  const dir = path.join(OUT, 'alone');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'pusher');
  fs.copyFileSync(path.join(ROOT, 'pusher'), bin);
  fs.chmodSync(bin, 0o755);
  assert.ok(isStatic(bin), 'pusher is linked statically');

  const srv = await h.startServer([], { bin, cwd: dir });
  t.after(() => srv.stop());
  for (const [url, file] of [['/', 'index.html'], ['/app.js', 'app.js'], ['/style.css', 'style.css']]) {
    const res = await h.get(srv, url);
    assert.equal(res.status, 200, `${url} answered ${res.status}`);
    assert.ok(res.bodyBuf.equals(fs.readFileSync(path.join(ROOT, 'static', file))), `${url} is static/${file} as built in`);
  }

  const page = await ChatPage.open(await browser(), srv, 'solo');
  t.after(() => page.close());
  assert.equal(await page.page.title(), 'pusher chat');
  await page.join('solo');
  await page.say('nobody else here yet');
  const lines = await page.lines();
  assert.ok(lines.some((l) => l.own && l.text === 'nobody else here yet'), 'the page shows what was sent');
  page.assertClean();
  await srv.stop();
  assert.deepEqual(fs.readdirSync(dir), ['pusher'], 'pusher wrote nothing beside itself');
});
