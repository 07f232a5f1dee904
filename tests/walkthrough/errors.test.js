'use strict';
// Every mistake a person can make from a terminal, made with curl: the
// answer is one plain line that says what to change.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const h = require('../e2e/helpers');

const UPGRADE = ['-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13',
  '-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
const KEY = ['-H', 'Authorization: Bearer s3cret'];
const push = (body, auth = KEY) => ['-X', 'POST', '/api/push', ...auth, '-d', body];

// [what was done, curl arguments (the path stands for the URL), status, what the line must say]
const MISTAKES = [
  ['no userId', ['/websocket', ...UPGRADE], 400, /userId is missing: add \?userId=NAME/],
  ['an empty userId', ['/websocket?userId=', ...UPGRADE], 400, /userId is empty/],
  ['a userId over 64 bytes', [`/websocket?userId=${'a'.repeat(65)}`, ...UPGRADE], 400, /userId is longer than 64 bytes/],
  ['a userId that is not UTF-8', ['/websocket?userId=%ff', ...UPGRADE], 400, /userId is not valid UTF-8/],
  ['a userId with a control character', ['/websocket?userId=a%01b', ...UPGRADE], 400, /userId holds a control character/],
  ['a broken percent escape', ['/websocket?userId=%zz', ...UPGRADE], 400, /percent-encoded/],
  ['no upgrade at all', ['/websocket?userId=alice'], 400, /needs a WebSocket upgrade \(Upgrade: websocket\)/],
  ['no key', push('{"messageType":2,"content":"hi"}', []), 401, /needs Authorization: Bearer/],
  ['a wrong key', push('{"messageType":2,"content":"hi"}', ['-H', 'Authorization: Bearer wrong']), 401, /needs Authorization: Bearer/],
  ['a body cut short', push('{"messageType":2,"content":"hi"'), 400, /not valid JSON at byte 31/],
  ['a body that is not JSON', push('hello'), 400, /JSON/],
  ['an empty body', push(''), 400, /JSON object/],
  ['a JSON array', push('[1,2]'), 400, /must be a JSON object/],
  ['a type that cannot be pushed', push('{"messageType":4}'), 400, /messageType must be 0 \(Single\), 1 \(Group\) or 2 \(SysNotify\)/],
  ['a type given as a string', push('{"messageType":"2"}'), 400, /messageType must be an integer/],
  ['content that is not a string', push('{"messageType":2,"content":5}'), 400, /content must be a string/],
  ['an unknown media type', push('{"messageType":2,"mediaType":9}'), 400, /mediaType must be 0 \(text\), 1 \(image\) or 2 \(file\)/],
  ['a Single without "to"', push('{"messageType":0,"content":"x"}'), 400, /needs "to"/],
  ['a Group to a room whose name is too long', push(`{"messageType":1,"to":"${'r'.repeat(65)}","content":"x"}`), 400, /room name is longer than 64 bytes/],
  ['GET on the push API', ['/api/push'], 405, /use POST/],
  ['a path outside the page', ['--path-as-is', '/../etc/passwd'], 400, /inside the page's folder/],
];

function curl(port, args) {
  const i = args.findIndex((a) => a.startsWith('/'));
  const argv = ['-s', '-i', '--max-time', '5', ...args];
  argv[i + 4] = `http://127.0.0.1:${port}${args[i]}`;
  return new Promise((resolve, reject) => {
    execFile('curl', argv, { encoding: 'latin1', timeout: 10000 }, (err, stdout) => {
      if (err && !stdout) return reject(new Error(`curl ${argv.join(' ')}: ${err.message}`));
      const end = stdout.indexOf('\r\n\r\n');
      const head = stdout.slice(0, end).split('\r\n');
      const headers = {};
      for (const l of head.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      resolve({ status: Number(head[0].split(' ')[1]), headers, body: Buffer.from(stdout.slice(end + 4), 'latin1').toString('utf8') });
    });
  });
}

test('every mistake from a terminal is answered with one plain line that says what to change', { timeout: 60000 }, async (t) => {
  const srv = await h.serve(t, ['--api-key', 's3cret']);
  for (const [what, args, status, says] of MISTAKES) {
    const res = await curl(srv.port, args);
    const shown = `${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`;
    assert.equal(res.status, status, shown);
    assert.match(res.headers['content-type'] || '', /^text\/plain/, `${shown}: not plain text`);
    assert.match(res.body, /^[^\n]+\n$/, `${shown}: not one line`);
    assert.match(res.body, says, `${shown}: does not say what to change`);
  }
  await h.assertServes(srv);
});
