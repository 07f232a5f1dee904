'use strict';
// `make install` as a packager runs it, and the man page it installs.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, OUT, run, makeInstall, helpFlags, manText } = require('./deploy');

const T = { timeout: 120000 };

test('make install DESTDIR=... PREFIX=/usr puts the binary and the man page in place', T, async () => {
  const dest = path.join(OUT, 'install');
  await makeInstall(dest, '/usr');
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(path.relative(dest, p));
    }
  };
  walk(dest);
  assert.deepEqual(files.sort(), ['usr/bin/pusher', 'usr/share/man/man1/pusher.1']);

  const bin = path.join(dest, 'usr/bin/pusher');
  const man = path.join(dest, 'usr/share/man/man1/pusher.1');
  assert.equal(fs.statSync(bin).mode & 0o777, 0o755);
  assert.equal(fs.statSync(man).mode & 0o777, 0o644);
  assert.ok(fs.readFileSync(bin).equals(fs.readFileSync(path.join(ROOT, 'pusher'))), 'the installed binary is ./pusher');
  assert.ok(fs.readFileSync(man).equals(fs.readFileSync(path.join(ROOT, 'pusher.1'))), 'the installed page is pusher.1');

  const version = await run(bin, ['--version']);
  assert.equal(version.code, 0);
  assert.match(version.out, /^pusher \d+\.\d+\.\d+\n$/);
  // man finds it by name under the installed tree.
  const where = await run('man', ['-w', 'pusher'], { env: { MANPATH: path.join(dest, 'usr/share/man') } });
  assert.equal(where.out.trim(), man, `man -w pusher: ${where.out}`);
});

test('the man page renders cleanly and names every flag of pusher --help with its default', T, async () => {
  const page = path.join(ROOT, 'pusher.1');
  const lint = await run('groff', ['-man', '-ww', '-z', page]);
  assert.equal(lint.code, 0, lint.out);
  assert.equal(lint.out, '', `groff warns about pusher.1:\n${lint.out}`);

  const version = (await run(path.join(ROOT, 'pusher'), ['--version'])).out.trim();
  const th = /^\.TH PUSHER 1 \S+ "([^"]+)"/m.exec(fs.readFileSync(page, 'utf8'));
  assert.equal(th && th[1], version, 'the man page\'s header names the version pusher --version prints');

  const text = await manText(page);
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'SIGNALS', 'EXIT STATUS', 'SEE ALSO']) {
    assert.match(text, new RegExp(`(^|\\n)${section}\\n`), `pusher(1) has a ${section} section`);
  }
  const flags = await helpFlags();
  assert.ok(flags.length >= 17, `pusher --help lists only ${flags.length} options`);
  for (const f of flags) {
    assert.ok(text.includes(f.usage), `pusher(1) does not name ${f.usage}`);
    if (f.env) {
      const want = `(${f.env}, default ${f.default})`;
      assert.ok(text.includes(want), `pusher(1) does not give ${f.usage} as ${want}`);
    }
  }
});
