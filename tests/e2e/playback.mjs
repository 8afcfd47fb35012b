// End to end in a real browser: Debian's Chromium, driven by playwright-core, plays what the
// real binary serves with the real players (hls.js and dash.js from npm), from a page on
// another loopback origin (so CORS is exercised like on a real site):
//   a. hls.js plays the ready 10 s clip (manifest.m3u8) to the `ended` event;
//   b. dash.js plays the same clip (manifest.mpd) to the end;
//   c. forcing each hls.js level switches rungs (LEVEL_SWITCHED, the picture's height) and
//      playback goes on;
//   d. hls.js starts playing a 40 s clip while its transcode is still running (EVENT
//      playlist), and then plays on to the end once the transcode has completed.
//
//   node tests/e2e/playback.mjs <path to streamgate>
//
// Exit code 0 = pass. Needs ffmpeg, Debian's chromium (CHROMIUM overrides /usr/bin/chromium)
// and tests/node_modules (cd tests && npm ci). Never downloads a browser.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { freePort, sleep, spawnStreamGate, waitReady, within } from './lib.mjs';

const require = createRequire(new URL('../package.json', import.meta.url));
const { chromium } = require('playwright-core');
const modules = fileURLToPath(new URL('../node_modules/', import.meta.url));
const pageFile = fileURLToPath(new URL('./playback.html', import.meta.url));

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node playback.mjs <streamgate binary>');
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const RATE = 4; // playbackRate of the play-to-the-end checks: 10 s of media in ~2.5 s.

function makeClip(path, seconds) {
  execFileSync('ffmpeg', ['-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=duration=${seconds}:size=426x240:rate=25`,
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', path]);
}

// A tiny static server for the test page and the player bundles, on its own origin.
async function servePage() {
  const files = {
    '/': [pageFile, 'text/html; charset=utf-8'],
    '/hls.min.js': [join(modules, 'hls.js/dist/hls.min.js'), 'text/javascript'],
    '/dash.all.min.js': [join(modules, 'dashjs/dist/modern/umd/dash.all.min.js'),
      'text/javascript'],
  };
  for (const [path] of Object.values(files)) {
    if (!existsSync(path)) throw new Error(`missing ${path} (run: cd tests && npm ci)`);
  }
  const server = createHttpServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' });
    res.end(readFileSync(file[0]));
  });
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${port}` };
}

const dir = mkdtempSync(join(tmpdir(), 'sg-e2e-playback-'));
let server;
let pageServer;
let browser;
let serverLog = { text: '' };
let failed = false;
const timings = [];
// ctest's timeout or ^C: leave no server behind (Playwright closes its own browser).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    console.error(`FAIL: interrupted by ${signal}`);
    process.exit(1);
  });
}
async function timed(name, fn) {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

try {
  const started = Date.now();
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath} (scripts/install-deps installs it)`);
  }
  const clip10 = join(dir, 'clip10.mp4');
  const clip40 = join(dir, 'clip40.mp4');
  await timed('clips', async () => {
    makeClip(clip10, 10);
    makeClip(clip40, 40);
  });

  // 1. The real server, with a small quick ladder (two rungs, both within the 240p source).
  const port = await freePort();
  const streamgate = spawnStreamGate(binary, dir, port, [
    'transcode:',
    '  ladder: ["144p=150k", "240p=300k"]',
    '  segment_seconds: 2',
    '  gop_seconds: 1',
    '  threads: 2',
  ]);
  server = streamgate.child;
  serverLog = streamgate.log;
  const { base, dataDir } = streamgate;
  await timed('server ready', () => waitReady(base, 20000, server));
  const key = readFileSync(join(dataDir, 'api_key'), 'utf8').trim();
  const auth = { headers: { Authorization: `Bearer ${key}` } };

  async function status(id) {
    const reply = await fetch(`${base}/api/v1/content/${id}`, auth);
    const body = await reply.text();
    if (reply.status !== 200) throw new Error(`GET content ${id}: ${reply.status} ${body}`);
    return JSON.parse(body).status;
  }

  // The real CLI; it prints the content id as its last line.
  async function upload(file) {
    const { stdout } = await promisify(execFile)(binary, ['upload', file, '--server', base,
      '--api-key', key, '--quiet', '--state-dir', join(dir, 'upload-state')], { timeout: 60000 });
    const id = stdout.trim().split('\n').pop().trim();
    if (!/^[a-z0-9]{8,}$/.test(id)) throw new Error(`upload printed no content id: ${stdout}`);
    return id;
  }

  async function waitStatus(id, wanted, ms) {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      last = await status(id);
      if (last === wanted) return;
      if (last === 'failed') throw new Error(`content ${id} failed to transcode`);
      await sleep(200);
    }
    throw new Error(`content ${id} is "${last}" after ${ms / 1000} s, expected "${wanted}"`);
  }

  // 2. The 10 s clip, uploaded and transcoded to the end before the browser checks.
  const id10 = await timed('upload+transcode 10 s', async () => {
    const id = await upload(clip10);
    await waitStatus(id, 'ready', 90000);
    return id;
  });
  const stream10 = `${base}/api/v1/streaming/${id10}`;
  const master = await (await fetch(`${stream10}/manifest.m3u8`)).text();
  const codecs = [...new Set([...master.matchAll(/CODECS="([^"]+)"/g)]
    .flatMap((m) => m[1].split(',')))];
  console.log(`content ${id10} ready; codecs ${codecs.join(', ')}`);

  // 3. The page on its own origin, and Chromium.
  pageServer = await servePage();
  browser = await timed('browser launch', () => chromium.launchPersistentContext(
    join(dir, 'chromium-profile'), {
      executablePath: chromiumPath,
      headless: true,
      chromiumSandbox: false,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required'],
      timeout: 30000,
    }));

  async function openPage() {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
    await page.goto(`${pageServer.origin}/`, { waitUntil: 'load', timeout: 15000 });
    return page;
  }

  // Runs one browser check with a deadline; on failure, the page's event log goes along.
  async function check(name, ms, fn) {
    const page = await openPage();
    try {
      return await timed(name, () => within(ms, name, fn(page)));
    } catch (error) {
      const log = await page.evaluate(() => window.sg.log).catch(() => []);
      throw new Error(`${name}: ${error.message.split('\n')[0]}\n  page log:\n    ` +
        log.slice(-40).join('\n    '));
    } finally {
      await page.close().catch(() => {});
    }
  }

  {
    const page = await openPage();
    const support = await page.evaluate(() => window.sg.support());
    const types = ['video/mp4; codecs="avc1.64000d"', 'audio/mp4; codecs="mp4a.40.2"',
      ...codecs.map((c) => `${c.startsWith('mp4a') ? 'audio' : 'video'}/mp4; codecs="${c}"`)];
    const supported = await page.evaluate((t) => window.sg.isTypeSupported(t), types);
    await page.close();
    console.log(`chromium ${browser.browser()?.version() ?? '?'}, hls.js ${support.hlsVersion}, ` +
      `dash.js ${support.dashVersion}`);
    if (!support.mse || !support.hls || !support.dash) {
      throw new Error(`this Chromium lacks MediaSource or a player: ${JSON.stringify(support)}`);
    }
    const missing = supported.filter(([, ok]) => !ok).map(([t]) => t);
    if (missing.length) {
      throw new Error(`this Chromium cannot play ${missing.join(' / ')} through MediaSource ` +
        '(a Chromium build without H.264/AAC; Debian\'s chromium has them via ffmpeg)');
    }
  }

  // a. hls.js, ready content, to the end.
  const hls = await check('a. hls.js plays to the end', 60000, (page) =>
    page.evaluate(([u, r]) => window.sg.playToEnd('hls', u, r), [`${stream10}/manifest.m3u8`,
      RATE]));
  const endsOk = (r) => Math.abs(r.duration - 10) < 0.5 && r.maxTime >= 9.5;
  if (!endsOk(hls)) throw new Error(`a. hls.js: duration/progress wrong: ${JSON.stringify(hls)}`);
  console.log(`a. ok: hls.js ended, duration ${hls.duration.toFixed(3)} s, ` +
    `reached ${hls.maxTime.toFixed(3)} s`);

  // b. dash.js, the same content, to the end.
  const dash = await check('b. dash.js plays to the end', 60000, (page) =>
    page.evaluate(([u, r]) => window.sg.playToEnd('dash', u, r), [`${stream10}/manifest.mpd`,
      RATE]));
  if (!endsOk(dash)) {
    throw new Error(`b. dash.js: duration/progress wrong: ${JSON.stringify(dash)}`);
  }
  console.log(`b. ok: dash.js ended, duration ${dash.duration.toFixed(3)} s, ` +
    `reached ${dash.maxTime.toFixed(3)} s`);

  // c. Forced rung switches, at normal speed so both fit in the 10 s clip.
  const rungs = await check('c. forced rung switch', 60000, (page) =>
    page.evaluate(([u]) => window.sg.forceEachLevel(u, 1), [`${stream10}/manifest.m3u8`]));
  const forced = new Set(rungs.steps.map((s) => s.level));
  if (forced.size !== rungs.heights.length) {
    throw new Error(`c. not every level was switched to: ${JSON.stringify(rungs)}`);
  }
  console.log(`c. ok: levels ${rungs.heights.join('p, ')}p; ` + rungs.steps.map((s) =>
    `forced ${s.level} at ${s.forcedAt.toFixed(2)} s -> ${s.height} px, playing at ` +
    `${s.playingAt.toFixed(2)} s`).join('; '));

  // d. The 40 s clip: play while it is still transcoding.
  const id40 = await timed('upload 40 s', () => upload(clip40));
  const stream40 = `${base}/api/v1/streaming/${id40}`;
  await timed('d. wait for the first segments', async () => {
    const end = Date.now() + 60000;
    for (;;) {
      const now = await status(id40);
      if (now === 'ready' || now === 'failed') {
        throw new Error(`d. the 40 s clip was "${now}" before its manifest answered 200 ` +
          'while processing: the transcode is too quick for this check (use a longer clip)');
      }
      if (now === 'processing' &&
          (await fetch(`${stream40}/manifest.m3u8`, { method: 'HEAD' })).status === 200) {
        return;
      }
      if (Date.now() > end) throw new Error(`d. manifest of ${id40} not 200 within 60 s`);
      await sleep(100);
    }
  });
  const live = await check('d. hls.js plays while transcoding', 120000, async (p) => {
    await p.exposeFunction('sgOnPlaying', () => status(id40));
    return p.evaluate(([u, r]) => window.sg.playWhileTranscoding(u, r),
      [`${stream40}/manifest.m3u8`, RATE]);
  });
  if (live.statusWhenPlaying === 'ready') {
    throw new Error(`d. the content was already ready when playback started: ${
      JSON.stringify(live)}`);
  }
  if (!live.playlistsWhenPlaying.some((t) => t.startsWith('EVENT'))) {
    throw new Error(`d. hls.js saw no EVENT playlist before playing: ${JSON.stringify(live)}`);
  }
  if (Math.abs(live.duration - 40) > 0.5 || live.maxTime < 39.5) {
    throw new Error(`d. after the transcode, playback did not reach the end: ${
      JSON.stringify(live)}`);
  }
  console.log(`d. ok: playing at ${live.timeWhenPlaying.toFixed(2)} s while the content was ` +
    `"${live.statusWhenPlaying}" (playlists ${live.playlistsWhenPlaying.join(' ')}); then ended ` +
    `at ${live.maxTime.toFixed(2)} of ${live.duration.toFixed(3)} s`);
  console.log(`ok: timings: ${timings.join(', ')}; total ${
    ((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  failed = true;
  console.error('FAIL:', error?.message ?? error);
  if (timings.length) console.error(`timings: ${timings.join(', ')}`);
  const lines = serverLog.text.trim().split('\n').filter((l) => l && !l.includes('"level":"info"'));
  if (lines.length) console.error('server log (warnings and errors, last 30):\n' +
    lines.slice(-30).join('\n'));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.server.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
