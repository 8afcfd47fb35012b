// End to end: the standard tus client (tus-js-client, Node) against the real binary.
// Uploads a generated clip, aborts half way, resumes from the server's offset and finishes;
// then checks the content record exists and has the file's SHA-256.
//
//   node tests/e2e/tus_upload.mjs <path to streamgate>
//
// Exit code 0 = pass. Needs ffmpeg and tests/node_modules (cd tests && npm ci).

import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

import { freePort, waitReady } from './lib.mjs';

const require = createRequire(new URL('../package.json', import.meta.url));
const tus = require('tus-js-client');

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node tus_upload.mjs <streamgate binary>');
  process.exit(2);
}
const CHUNK = 16 * 1024;

function upload(file, options) {
  return new Promise((resolve, reject) => {
    const state = { contentId: '', url: '', aborted: false };
    const instance = new tus.Upload(file, {
      ...options,
      onAfterResponse(req, res) {
        const id = res.getHeader('Streamgate-Content-Id');
        if (id) state.contentId = id;
      },
      onError: reject,
      onSuccess() {
        state.url = instance.url;
        resolve(state);
      },
      onChunkComplete(chunkSize, accepted, total) {
        if (options.abortAfterBytes && accepted >= options.abortAfterBytes && !state.aborted) {
          state.aborted = true;
          state.url = instance.url;
          instance.abort(false).then(() => resolve(state), reject);
        }
      },
    });
    instance.start();
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sg-e2e-tus-'));
let server;
let failed = false;
try {
  const clipPath = join(dir, 'clip.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
    'testsrc=duration=10:size=640x480:rate=25', '-f', 'lavfi', '-i', 'sine=duration=10',
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clipPath]);
  const clip = readFileSync(clipPath);
  const sha256 = createHash('sha256').update(clip).digest('hex');
  if (clip.length < 4 * CHUNK) throw new Error(`clip too small: ${clip.length} bytes`);

  const port = await freePort();
  const dataDir = join(dir, 'data');
  server = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env: { ...process.env, STREAMGATE_UPLOAD__CHUNK_SIZE: String(CHUNK),
      STREAMGATE_UPLOAD__MIN_CHUNK_SIZE: '1024' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(base, 15000, server);
  const key = readFileSync(join(dataDir, 'api_key'), 'utf8').trim();

  const common = {
    endpoint: `${base}/api/v1/tus`,
    // Deliberately not a multiple of the server's chunk size: PATCH bodies end inside
    // chunks, and the server stages the partial chunk until the next PATCH completes it.
    chunkSize: Math.floor(CHUNK * 1.5) + 123,
    retryDelays: [0, 200, 500],
    headers: { Authorization: `Bearer ${key}` },
    metadata: { filename: 'e2e.mp4', filetype: 'video/mp4', title: 'tus e2e' },
    uploadSize: clip.length,
  };

  // 1. Start and abort half way.
  const half = Math.floor(clip.length / CHUNK / 2) * CHUNK;
  const first = await upload(clip, { ...common, abortAfterBytes: half });
  if (!first.aborted || !first.url) throw new Error('the upload did not abort half way');
  const head = await fetch(`${base}${new URL(first.url, base).pathname}`, {
    method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${key}` },
  });
  const offset = Number(head.headers.get('upload-offset'));
  if (!(offset >= half && offset < clip.length)) {
    throw new Error(`after the abort the offset is ${offset}, expected >= ${half}`);
  }
  console.log(`aborted at ${offset} of ${clip.length} bytes`);

  // 2. Resume from the same URL and finish.
  const second = await upload(clip, { ...common, uploadUrl: first.url });
  if (!second.contentId) throw new Error('the final PATCH carried no Streamgate-Content-Id');

  // 3. The content exists with the file's hash.
  const content = await fetch(`${base}/api/v1/content/${second.contentId}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await content.text();
  if (content.status !== 200) throw new Error(`GET content: ${content.status} ${body}`);
  if (!body.includes(sha256)) throw new Error(`content does not carry sha256 ${sha256}: ${body}`);
  console.log(`ok: content ${second.contentId}, ${clip.length} bytes, sha256 ${sha256}`);
  if (stderr.includes('"level":"error"')) console.log('server logged errors:\n' + stderr);
} catch (error) {
  failed = true;
  console.error('FAIL:', error?.message ?? error);
} finally {
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
