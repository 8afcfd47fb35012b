// Helpers shared by the end-to-end scripts in this folder (node, no dependencies).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/// A TCP port free on loopback right now (the OS picks it).
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Rejects with `what` when `promise` takes longer than `ms`.
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// Waits for GET /readyz 200 from the server process `server` at `base`; fails at once if the
/// process exits, and after `deadlineMs`.
export async function waitReady(base, deadlineMs, server) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
    try {
      const reply = await fetch(`${base}/readyz`);
      if (reply.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`server not ready (GET /readyz 200) within ${deadlineMs / 1000} s`);
}

/// Starts `streamgate serve` on 127.0.0.1:`port` with `configLines` as its YAML config file
/// and `dir`/data as its data directory, collecting its stdout and stderr in `log.text`.
export function spawnStreamGate(binary, dir, port, configLines) {
  const configPath = join(dir, 'streamgate.yaml');
  const dataDir = join(dir, 'data');
  writeFileSync(configPath, [...configLines, ''].join('\n'));
  const child = spawn(binary, ['serve', '--config', configPath, '--listen', `127.0.0.1:${port}`,
    '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = { text: '' };
  child.stdout.on('data', (d) => { log.text += d; });
  child.stderr.on('data', (d) => { log.text += d; });
  return { child, log, dataDir, base: `http://127.0.0.1:${port}` };
}
