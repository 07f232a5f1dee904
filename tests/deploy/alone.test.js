'use strict';
// The binary alone is the whole deployment: copied into an empty directory
// and started there, it serves the chat page, which works in a browser; with
// a certificate beside it and nothing else, it serves https:// and wss://.

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

// A fresh directory holding a copy of the binary alone.
function alone(name) {
  const dir = path.join(OUT, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'pusher');
  fs.copyFileSync(path.join(ROOT, 'pusher'), bin);
  fs.chmodSync(bin, 0o755);
  assert.ok(isStatic(bin), 'pusher is linked statically');
  return { dir, bin };
}

test('the binary alone, in an empty directory, serves the chat page', { timeout: 90000 }, async (t) => {
  const { dir, bin } = alone('alone');
  const srv = await h.startServer([], { bin, cwd: dir, plain: true });
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

test('the binary alone with only a certificate beside it serves https:// and wss://', { timeout: 90000 }, async (t) => {
  const { dir, bin } = alone('alone-tls');
  const cert = h.makeCert(dir, { name: 'cert', cn: 'alone.example' });
  fs.renameSync(cert.key, path.join(dir, 'key.pem'));
  fs.renameSync(cert.cert, path.join(dir, 'cert.pem'));
  const files = ['cert.pem', 'key.pem', 'pusher'];
  assert.deepEqual(fs.readdirSync(dir).sort(), files);

  // relative paths: the files are read from where it was started
  const srv = await h.startServer(['--tls-cert', 'cert.pem', '--tls-key', 'key.pem'], { bin, cwd: dir });
  t.after(() => srv.stop());
  assert.ok(srv.tls);
  assert.match(srv.stderr, /\bevent=start\b.*\btls_subject="CN=alone\.example"/);
  const res = await h.get(srv, '/');
  assert.equal(res.status, 200);
  assert.ok(res.bodyBuf.equals(fs.readFileSync(path.join(ROOT, 'static', 'index.html'))), 'https:// / is the page');
  const plain = await h.httpRequest(srv, { path: '/', plain: true });
  assert.equal(plain.status, 301);
  assert.equal(plain.headers.location, `https://127.0.0.1:${srv.port}/`);
  plain.raw.destroy();

  const a = await h.connect(srv, 'ann');
  const b = await h.connect(srv, 'ben');
  assert.equal(a.ws.url.startsWith('wss://'), true);
  assert.equal(a.ws._socket.getPeerCertificate().serialNumber, cert.serial);
  await h.settle(a, b);
  a.send({ messageType: 1, content: 'over wss from a bare folder' });
  await b.take((m) => m.content === 'over wss from a bare folder', 'ann\'s Group over wss://');

  const page = await ChatPage.open(await browser(), srv, 'secure');
  t.after(() => page.close());
  assert.equal(await page.page.title(), 'pusher chat');
  assert.ok(page.page.url().startsWith('https://'), `the page is ${page.page.url()}`);
  await page.join('secure');
  await page.say('typed over https');
  await b.take((m) => m.content === 'typed over https' && m.from === 'secure', 'the page\'s Group over wss://');
  page.assertClean();
  await srv.stop();
  assert.deepEqual(fs.readdirSync(dir).sort(), files, 'pusher wrote nothing beside itself');
});
