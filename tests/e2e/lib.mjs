// Helpers shared by the end-to-end scripts in this folder (node, no dependencies).

import { createServer } from 'node:net';

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
