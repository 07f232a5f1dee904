'use strict';
// A redis-server of a test's own on a private Unix socket in a fresh
// directory, stopped by its PID (redis.test.js, nodes.test.js).

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./helpers');

function redisServerPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed: run tests/setup as root, or apt-get install redis-server');
  }
}

const canConnect = (sock) => new Promise((resolve) => {
  const s = net.connect(sock);
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

// A redis-server of this test's own, on DIR/redis.sock; start() again
// after a kill reuses the directory and the socket's path.
class Redis {
  constructor(t, extra = []) {
    this.bin = redisServerPath();
    this.dir = h.tmpDir('pusher-redis-');
    this.sock = path.join(this.dir, 'redis.sock');
    this.addr = `unix:${this.sock}`;
    this.extra = extra;
    this.proc = null;
    t.after(() => this.kill('SIGTERM'));
  }

  async start() {
    const args = ['--port', '0', '--unixsocket', this.sock, '--dir', this.dir, '--save', '',
      '--appendonly', 'no', '--daemonize', 'no', ...this.extra];
    const log = fs.openSync(path.join(this.dir, 'redis.log'), 'a');
    const proc = spawn(this.bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.on('close', resolve));
    await h.waitFor(async () => {
      if (proc.exitCode !== null) {
        throw new Error(`redis-server exited: ${fs.readFileSync(path.join(this.dir, 'redis.log'), 'utf8')}`);
      }
      return canConnect(this.sock);
    }, `redis-server to accept on ${this.sock}`, 5000);
  }

  async kill(sig = 'SIGKILL') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(sig);
    await this.exited;
  }
}

module.exports = { Redis, redisServerPath };
