'use strict';
// nginx from Debian in front of pusher, run the way an operator would, minus
// the system service: contrib/nginx.conf is included in a small main config
// with its own prefix under tests/out/proxy/NAME, on high loopback ports, as
// the user nobody when we are root (setpriv drops every privilege before
// nginx starts), and the certificate is made at test time with openssl.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');

const ROOT = path.resolve(__dirname, '../..');
const RECIPE = path.join(ROOT, 'contrib/nginx.conf');
const os = require('node:os');
// nginx's prefix, config, certificate and logs: as root, nginx runs as nobody,
// which may not reach the checkout (root's home is 0700), so they go in a
// directory under the system's temporary one; tests/out/proxy/NAME points there.
const LINKS = path.resolve(__dirname, '../out/proxy');
const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-proxy-'));
fs.chmodSync(OUT, 0o755);
// At exit the files move to tests/out/proxy for a look after the run, and
// the temporary directory goes.
process.on('exit', () => {
  try {
    for (const name of fs.readdirSync(OUT)) {
      fs.rmSync(path.join(LINKS, name), { recursive: true, force: true });
      fs.cpSync(path.join(OUT, name), path.join(LINKS, name), { recursive: true });
    }
  } catch { /* the files are only for reading after a failure */ }
  fs.rmSync(OUT, { recursive: true, force: true });
});

function which(prog, dirs = ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
  for (const d of [...(process.env.PATH || '').split(':'), ...dirs]) {
    const p = path.join(d, prog);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

const NGINX = which('nginx');
const asRoot = process.getuid && process.getuid() === 0;

// A port that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A self-signed certificate for 127.0.0.1 and localhost, made with the
// openssl command; returns the paths.
function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20000 });
  return { cert, key };
}

// contrib/nginx.conf with its ports, paths and timeouts replaced; each
// replaced line must be there exactly once, so the recipe cannot drift from
// what is tested without this failing.
function recipe(o) {
  let text = fs.readFileSync(RECIPE, 'utf8');
  const swap = (from, to) => {
    const n = text.split(from).length - 1;
    assert.equal(n, 1, `contrib/nginx.conf should hold ${JSON.stringify(from)} once (found ${n}): ` +
      'the test swaps it for its own value');
    text = text.replace(from, to);
  };
  swap('listen 443 ssl;', `listen 127.0.0.1:${o.httpsPort} ssl;`);
  swap('listen 80;', `listen 127.0.0.1:${o.httpPort};`);
  swap('server 127.0.0.1:8080;', `server 127.0.0.1:${o.pusherPort};`);
  swap('/etc/ssl/certs/chat.example.com.pem;', `${o.cert};`);
  swap('/etc/ssl/private/chat.example.com.key;', `${o.key};`);
  swap('proxy_read_timeout 60s;', `proxy_read_timeout ${o.readTimeout};`);
  swap('proxy_send_timeout 60s;', `proxy_send_timeout ${o.readTimeout};`);
  return text;
}

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

class Nginx {
  // Writes the prefix and config for pusher on pusherPort, checks them with
  // nginx -t, starts nginx and waits until it accepts TLS connections.
  static async start(name, pusherPort, o = {}) {
    assert.ok(NGINX, 'nginx is missing: tests/setup installs Debian\'s nginx package (apt-get install nginx)');
    const dir = path.join(OUT, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(LINKS, { recursive: true });
    fs.rmSync(path.join(LINKS, name), { force: true });
    fs.symlinkSync(dir, path.join(LINKS, name));
    for (const d of ['tmp', 'logs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    const { cert, key } = makeCertificate(dir);
    const ng = new Nginx(dir, cert);
    ng.httpsPort = await freePort();
    ng.httpPort = await freePort();
    ng.readTimeout = o.readTimeout || '3s';
    fs.writeFileSync(path.join(dir, 'pusher.conf'), recipe({
      httpsPort: ng.httpsPort, httpPort: ng.httpPort, pusherPort, cert, key, readTimeout: ng.readTimeout,
    }));
    const tmp = (k) => `${k}_temp_path ${path.join(dir, 'tmp', k)};`;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), [
      '# written by tests/proxy/nginx.js: a main config around contrib/nginx.conf',
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'logs/error.log')} info;`,
      'events { worker_connections 256; }',
      'http {',
      `    access_log ${path.join(dir, 'logs/access.log')};`,
      `    ${tmp('client_body')} ${tmp('proxy')} ${tmp('fastcgi')} ${tmp('uwsgi')} ${tmp('scgi')}`,
      `    include ${path.join(dir, 'pusher.conf')};`,
      '}',
      '',
    ].join('\n'));
    if (asRoot) execFileSync('chown', ['-R', 'nobody:nogroup', dir]);
    ng.test = ng.run(['-t']);
    const res = await ng.test;
    assert.equal(res.code, 0, `nginx -t refused the config:\n${res.out}`);
    ng.proc = ng.spawn([]);
    running.add(ng.proc);
    await h.waitFor(() => {
      if (ng.exit) throw new Error(`nginx exited with ${JSON.stringify(ng.exit)}:\n${ng.log()}`);
      return new Promise((resolve) => {
        const s = net.connect(ng.httpsPort, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(undefined));
      });
    }, `nginx to listen on 127.0.0.1:${ng.httpsPort}`, 10000, 50);
    return ng;
  }

  constructor(dir, cert) {
    this.dir = dir;
    this.ca = fs.readFileSync(cert);
    this.exit = null;
    this.stderr = '';
  }

  // nginx with its own prefix and config; as nobody, without privileges, when we are root.
  argv(extra) {
    const args = ['-p', this.dir, '-c', path.join(this.dir, 'nginx.conf'), '-e', path.join(this.dir, 'logs/error.log'), ...extra];
    if (!asRoot) return [NGINX, args];
    return ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all',
      '--no-new-privs', NGINX, ...args]];
  }

  spawn(extra) {
    const [cmd, args] = this.argv(extra);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { this.stderr += d; });
    proc.stdout.resume();
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
      this.exit = { code, signal };
      running.delete(proc);
      resolve(this.exit);
    }));
    return proc;
  }

  run(extra) {
    const [cmd, args] = this.argv(extra);
    return new Promise((resolve) => {
      const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      for (const s of [proc.stdout, proc.stderr]) { s.setEncoding('utf8'); s.on('data', (d) => { out += d; }); }
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
      proc.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
    });
  }

  log() {
    let file = '';
    try { file = fs.readFileSync(path.join(this.dir, 'logs/error.log'), 'utf8'); } catch { /* none yet */ }
    return (this.stderr + file).trim().split('\n').slice(-20).join('\n');
  }

  // Fast shutdown (SIGTERM), then the whole process group if it lingers.
  async stop() {
    if (!this.proc || this.exit) return;
    try { process.kill(this.proc.pid, 'SIGTERM'); } catch { /* gone */ }
    try {
      await h.withTimeout(this.exited, 5000, 'nginx to exit after SIGTERM');
    } catch (e) {
      try { process.kill(-this.proc.pid, 'SIGKILL'); } catch { /* gone */ }
      await this.exited;
      throw e;
    }
  }
}

module.exports = { Nginx, NGINX, RECIPE, OUT, freePort };
