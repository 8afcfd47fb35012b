// The web app end to end, in Debian's Chromium driven by playwright-core, against the real
// binary on loopback and two real ganache chains (tests/chain/evm_fixture.mjs):
//   1. an admin pastes the API key (a wrong one is refused), uploads a generated clip
//      through the upload page (the network is throttled so the progress bar visibly
//      moves), reloads half way, picks the same file again and the upload resumes from the
//      server's offset; the page follows the transcoding over SSE until "ready"; a dropped
//      non-video is refused with the server's reason; an unfinished upload is discarded
//      (also on the server); a broken clip fails with its reason (upload page, library
//      badge) and the owner deletes it;
//   2. the watch page plays it with hls.js and its quality menu switches rungs;
//   3. the library's search finds it (and not a nonsense word), a tag filter works;
//   4. the admin gates it with the policy form (a bad contract is refused naming the
//      field); wallet sign-in through an injected EIP-1193 provider (an ethers Wallet; it
//      hands out lower-case addresses like MetaMask, and starts on another chain so the
//      app must switch); an anonymous viewer is told what is needed, a non-holder sees the
//      refusal naming the contract and "only what I can watch" hides it, a holder plays
//      it; an expired session refreshes once across two tabs; the owner edits details
//      and makes it unlisted;
//   5. every page at desktop (light) and phone (dark) size: no horizontal overflow, layout
//      shift below 0.1, every control named, axe-core WCAG 2.1 AA audit with no serious
//      violation, keyboard navigation reaches the search box; screenshots.
//
//   node tests/e2e/webapp.mjs <path to streamgate>
//   SG_SCREENSHOT_DIR=docs/screenshots node tests/e2e/webapp.mjs build/streamgate
//
// Exit code 0 = pass. Needs ffmpeg, Debian's chromium and tests/node_modules.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { freePort, sleep, spawnStreamGate, waitReady, within } from './lib.mjs';

const require = createRequire(new URL('../package.json', import.meta.url));
const { chromium } = require('playwright-core');
const { Wallet, getBytes } = require('ethers');
const fixtureScript = fileURLToPath(new URL('../chain/evm_fixture.mjs', import.meta.url));
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node webapp.mjs <streamgate binary>');
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const dir = mkdtempSync(join(tmpdir(), 'sg-e2e-webapp-'));
const shotDir = resolve(process.env.SG_SCREENSHOT_DIR || join(dir, 'screenshots'));
mkdirSync(shotDir, { recursive: true });
let server;
let fixture;
let browser;
let serverLog = { text: '' };
const pageErrors = [];
const timings = [];

function cleanup() {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (fixture && fixture.exitCode === null) fixture.kill('SIGKILL');
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    rmSync(dir, { recursive: true, force: true });
    console.error(`FAIL: interrupted by ${signal}`);
    process.exit(1);
  });
}

async function step(name, ms, fn) {
  const t0 = Date.now();
  try {
    const result = await within(ms, name, fn());
    console.log(`ok: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    throw new Error(`${name}: ${error.message}`);
  } finally {
    timings.push(`${name.split(':')[0]} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

// The chains: one JSON line when ready; stdin stays open (closing it stops them).
async function startFixture() {
  fixture = spawn(process.execPath, [fixtureScript], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  fixture.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: fixture.stdout });
  const first = await within(90000, 'evm fixture start-up', new Promise((res, rej) => {
    lines.once('line', res);
    fixture.once('exit', (code) => rej(new Error(`evm fixture exited ${code}: ${stderr.slice(-2000)}`)));
  }));
  const info = JSON.parse(first);
  if (!info.ready) throw new Error(`evm fixture: ${first}`);
  return info;
}

// A 10 s clip of about 5 MB (high bitrate on purpose: the throttled upload takes seconds).
function makeClip(path) {
  execFileSync('ffmpeg', ['-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=duration=10:size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=10',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '4M', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-shortest', path], { timeout: 60000 });
}

// An EIP-1193 provider backed by an ethers Wallet living in this node process. It answers
// lower-case accounts, like MetaMask does, so the app's EIP-55 checksumming is exercised.
async function injectWallet(context, privateKey, chainId) {
  const wallet = new Wallet(privateKey);
  let chain = chainId;
  await context.exposeBinding('__sgWalletRequest', async (_source, method, params) => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [wallet.address.toLowerCase()];
      case 'eth_chainId':
        return '0x' + chain.toString(16);
      case 'wallet_switchEthereumChain':
        chain = Number.parseInt(params[0].chainId, 16);
        return null;
      case 'personal_sign': {
        const [hex, address] = params;
        if (address.toLowerCase() !== wallet.address.toLowerCase()) {
          throw new Error(`personal_sign for ${address}, not this wallet`);
        }
        return wallet.signMessage(getBytes(hex));
      }
      default:
        throw new Error(`unsupported method ${method}`);
    }
  });
  await context.addInitScript(() => {
    window.ethereum = {
      isStreamGateTestWallet: true,
      request: ({ method, params }) => window.__sgWalletRequest(method, params || []),
      on() {},
      removeListener() {},
    };
  });
  return wallet.address;
}

// Layout shifts not caused by input, summed (Chromium's CLS without session windows).
async function recordLayoutShifts(context) {
  await context.addInitScript(() => {
    window.__sgShift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (!entry.hadRecentInput) window.__sgShift += entry.value;
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
}

async function newContext(viewport, colorScheme = 'light') {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: 'reduce', colorScheme });
  await recordLayoutShifts(context);
  context.on('page', watchPage);
  return context;
}

function watchPage(page) {
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
}

// Page checks that hold everywhere: no sideways scrolling, every control has a name.
async function pageChecks(page, label) {
  const problems = await page.evaluate(() => {
    const out = [];
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      out.push(`horizontal overflow: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    }
    const named = (el) => {
      if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title) return true;
      if (el.labels && Array.from(el.labels).some((l) => l.textContent.trim())) return true;
      if (['BUTTON', 'A'].includes(el.tagName)) return el.textContent.trim() !== '' || el.querySelector('img[alt]:not([alt=""])');
      return false;
    };
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea, video[controls]')) {
      if (el.type === 'hidden' || el.closest('[hidden]')) continue;
      if (!named(el)) out.push(`unnamed ${el.tagName.toLowerCase()} ${el.outerHTML.slice(0, 80)}`);
    }
    return out;
  });
  expect(problems.length === 0, `${label}: ${problems.join('; ')}`);
  // axe-core (WCAG 2.1 A/AA rules: names, roles, contrast, landmarks): no serious or critical
  // violation. page.evaluate runs outside the page's CSP, which forbids injected scripts.
  await page.evaluate(axeSource);
  const audit = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return {
      passed: result.passes.length,
      minor: result.violations.filter((v) => v.impact === 'minor' || v.impact === 'moderate').map((v) => v.id),
      violations: result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`),
    };
  });
  expect(audit.passed > 10, `${label}: axe checked only ${audit.passed} rules`);
  expect(audit.violations.length === 0, `${label}: accessibility: ${audit.violations.join('; ')}`);
  console.log(`   ${label}: axe ${audit.passed} rules pass${audit.minor.length ? `; minor: ${audit.minor.join(', ')}` : ''}`);
}

async function layoutShift(page) {
  return page.evaluate(() => window.__sgShift);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: false });
}

async function signInWithWallet(page, base) {
  await page.goto(`${base}/account`);
  await page.getByRole('button', { name: 'Sign in with a wallet' }).click();
  await page.locator('#account .who').waitFor({ timeout: 15000 });
}

try {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}`);
  const clip = join(dir, 'harbour-sunrise.mp4');
  await step('clip', 60000, async () => makeClip(clip));
  const clipBytes = statSync(clip).size;

  const evm = await step('evm fixture', 100000, startFixture);
  const chainA = evm.chains.find((c) => c.id === 'eip155:1337');
  const holder = evm.wallets[1]; // holds ERC-721 ids 1 and 2 on 1337
  const stranger = evm.wallets[3]; // holds nothing

  const port = await freePort();
  const started = spawnStreamGate(binary, dir, port, [
    // No auth.domains: sign-in follows the listen address (server.public_url).
    'chains:',
    `  - id: ${chainA.id}`,
    `    rpc_urls: ["${chainA.rpc_url}"]`,
    // Whole 1 MiB chunks survive an interrupted PATCH (the reload in step 1c).
    'upload:',
    '  chunk_size: 1MiB',
    'transcode:',
    '  max_attempts: 1', // the broken clip of step 1g fails at once
    '  ladder: ["144p=150k", "240p=300k"]',
    '  segment_seconds: 2',
    '  gop_seconds: 1',
    '  threads: 2',
  ]);
  server = started.child;
  serverLog = started.log;
  const { base, dataDir } = started;
  await step('server ready', 25000, () => waitReady(base, 20000, server));
  const apiKey = readFileSync(join(dataDir, 'api_key'), 'utf8').trim();

  browser = await step('browser launch', 30000, () => chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
    timeout: 30000,
  }));

  // ---- 1. admin: API key, upload with progress, reload, resume, transcoding to ready
  const admin = await newContext(DESKTOP);
  const adminPage = await admin.newPage();
  let contentId = '';
  await step('1a. the API key signs an admin in', 20000, async () => {
    await adminPage.goto(`${base}/account`);
    await adminPage.getByLabel('API key').fill('not-the-key');
    await adminPage.getByRole('button', { name: 'Use the API key' }).click();
    await adminPage.getByRole('alert').filter({ hasText: 'Not accepted' }).waitFor();
    await adminPage.getByLabel('API key').fill(apiKey);
    await adminPage.getByRole('button', { name: 'Use the API key' }).click();
    await adminPage.locator('#account .who', { hasText: 'Admin' }).waitFor();
  });

  const cdp = await admin.newCDPSession(adminPage);
  await cdp.send('Network.enable');
  const throttle = (bytesPerSecond) => cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: bytesPerSecond,
  });

  async function chooseAndStart() {
    await adminPage.goto(`${base}/upload`);
    await adminPage.locator('#file').setInputFiles(clip);
    await adminPage.getByLabel('Title').fill('Harbour sunrise e2e');
    await adminPage.getByLabel('Description').fill('Boats leaving the harbour at dawn.');
    await adminPage.getByLabel('Tags').fill('e2e, harbour');
    await adminPage.getByRole('button', { name: 'Upload', exact: true }).click();
  }
  const progressOf = () => adminPage.evaluate(() => {
    const bar = document.querySelector('progress[aria-label="Upload"]');
    const text = document.querySelector('.progress-block .progress-text');
    return { value: bar ? bar.value : -1, text: text ? text.textContent : '' };
  });

  const firstRun = await step('1b. upload progress moves (throttled to 600 KB/s)', 60000, async () => {
    await throttle(600 * 1000);
    await chooseAndStart();
    const seen = [];
    while (true) {
      const p = await progressOf();
      if (p.value > 0) seen.push(p);
      if (p.value >= 45) break;
      await sleep(150);
    }
    const distinct = new Set(seen.map((p) => Math.floor(p.value)));
    expect(distinct.size >= 3, `progress values ${[...distinct].join(', ')}: the bar did not move`);
    const last = seen[seen.length - 1];
    expect(/ of /.test(last.text) && /\/s/.test(last.text) && /left|almost/.test(last.text),
      `progress text lacks bytes, speed or time left: "${last.text}"`);
    await shot(adminPage, 'upload-progress-desktop');
    return last;
  });

  await step('1c. reload half way, choose the file again: the upload resumes', 90000, async () => {
    await adminPage.reload();
    await adminPage.getByRole('heading', { name: 'Unfinished uploads' }).waitFor();
    await throttle(-1);
    await chooseAndStart();
    await adminPage.locator('.progress-text', { hasText: 'resumed at' }).waitFor({ timeout: 30000 });
    const text = (await progressOf()).text;
    const match = text.match(/resumed at ([\d.]+) (KB|MB)/);
    expect(match, `no resume offset in "${text}"`);
    const resumedBytes = Number(match[1]) * (match[2] === 'MB' ? 1e6 : 1e3);
    expect(resumedBytes > 0.2 * clipBytes, `resumed at ${resumedBytes} B of ${clipBytes}: nothing was kept (first run reached ${firstRun.value.toFixed(0)} %)`);
  });

  await step('1d. transcoding progress over SSE until ready', 120000, async () => {
    await adminPage.locator('.upload-message .success', { hasText: 'Your video is ready.' }).waitFor({ timeout: 110000 });
    const watchHref = await adminPage.getByRole('link', { name: 'Watch it' }).getAttribute('href');
    contentId = watchHref.split('/').pop();
    expect(/^[a-z0-9]{8,}$/.test(contentId), `odd content id ${contentId}`);
    const transcodeBar = await adminPage.evaluate(() => document.querySelector('progress[aria-label="Transcoding"]').value);
    expect(transcodeBar === 100, `transcoding bar at ${transcodeBar} when ready`);
  });

  await step('1e. a dropped file that is not a video is refused with the server\'s reason', 30000, async () => {
    // Dropped on the drop zone rather than picked, so dropping is covered too.
    await adminPage.goto(`${base}/upload`);
    const dropped = await adminPage.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['this is not a video '.repeat(5000)], 'holiday.mp4', { type: 'video/mp4' }));
      return transfer;
    });
    await adminPage.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dropped });
    await adminPage.locator('.chosen', { hasText: 'holiday.mp4 (100 KB)' }).waitFor();
    expect(await adminPage.getByLabel('Title').inputValue() === 'holiday', 'the title is not taken from the file name');
    await adminPage.getByRole('button', { name: 'Upload', exact: true }).click();
    const alert = adminPage.locator('.upload-message [role="alert"]');
    await alert.waitFor({ timeout: 20000 });
    const text = await alert.textContent();
    expect(/^Upload failed: /.test(text) && /video|media|probe|format/i.test(text), `refusal shown: "${text}"`);
    // Nothing half-made is listed: the library still has exactly the one video.
    const listed = await (await fetch(`${base}/api/v1/content`, { headers: { Authorization: `Bearer ${apiKey}` } })).json();
    expect(listed.items.length === 1, `${listed.items.length} contents after a refused upload`);
    // The server removed the refused upload, so the page does not offer to resume it.
    await adminPage.goto(`${base}/upload`);
    await adminPage.locator('.dropzone').waitFor();
    await sleep(500);
    expect(await adminPage.getByRole('heading', { name: 'Unfinished uploads' }).count() === 0,
      'a refused upload is listed as unfinished');
  });

  await step('1f. an unfinished upload can be discarded: the server drops it too', 40000, async () => {
    const second = join(dir, 'second-take.mp4');
    writeFileSync(second, readFileSync(clip));
    await throttle(300 * 1000);
    await adminPage.goto(`${base}/upload`);
    await adminPage.locator('#file').setInputFiles(second);
    await adminPage.getByRole('button', { name: 'Upload', exact: true }).click();
    await adminPage.waitForFunction(() => document.querySelector('progress[aria-label="Upload"]').value > 5);
    const uploadUrl = await adminPage.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('tus::'));
      return key ? JSON.parse(localStorage.getItem(key)).uploadUrl : '';
    });
    expect(uploadUrl.startsWith('/api/v1/tus/') || uploadUrl.startsWith(`${base}/api/v1/tus/`), `tus url "${uploadUrl}"`);
    const tusUrl = new URL(uploadUrl, base).href;
    await adminPage.goto(`${base}/`); // leaving the page pauses the upload
    await throttle(-1);
    await adminPage.goto(`${base}/upload`);
    await adminPage.getByRole('button', { name: /Discard the unfinished upload of second take/ }).click({ timeout: 10000 })
      .catch(async (e) => { throw new Error(`no Discard button: ${await adminPage.locator('.pending').innerText()}; ${e.message.split('\n')[0]}`); });
    await adminPage.getByRole('heading', { name: 'Unfinished uploads' }).waitFor({ state: 'detached', timeout: 10000 });
    const head = await fetch(tusUrl, { method: 'HEAD', headers: { Authorization: `Bearer ${apiKey}`, 'Tus-Resumable': '1.0.0' } });
    expect(head.status === 404 || head.status === 410, `HEAD of the discarded upload: ${head.status}`);
  });

  await step('1g. a broken video fails with the reason on the page and in the library; the owner deletes it', 90000, async () => {
    // Moov first (the upload's probe accepts it), then cut to a third: the transcode fails.
    const broken = join(dir, 'broken-take.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=duration=8:size=426x240:rate=25',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', broken], { timeout: 60000 });
    writeFileSync(broken, readFileSync(broken).subarray(0, Math.floor(statSync(broken).size / 3)));
    await adminPage.goto(`${base}/upload`);
    await adminPage.locator('#file').setInputFiles(broken);
    await adminPage.getByRole('button', { name: 'Upload', exact: true }).click();
    const failure = adminPage.locator('.upload-message [role="alert"]', { hasText: 'Transcoding failed' });
    await failure.waitFor({ timeout: 60000 });
    const reason = (await failure.textContent()).replace('Transcoding failed: ', '');
    expect(reason.length > 5, `no reason: "${reason}"`);
    await adminPage.goto(`${base}/?q=broken`);
    const card = adminPage.locator('.card', { hasText: 'broken take' });
    await card.locator('.badge-failed', { hasText: 'Failed' }).waitFor();
    const shownReason = await card.locator('.reason').textContent();
    expect(shownReason === reason, `library reason "${shownReason}" vs page "${reason}"`);
    await card.locator('.card-link').click();
    await adminPage.getByRole('alert').filter({ hasText: 'Transcoding failed' }).first().waitFor();
    adminPage.once('dialog', (dialog) => dialog.accept());
    await adminPage.getByRole('button', { name: 'Delete this video' }).click();
    await adminPage.waitForURL(`${base}/`);
    const listed = await (await fetch(`${base}/api/v1/content`, { headers: { Authorization: `Bearer ${apiKey}` } })).json();
    expect(listed.items.length === 1 && listed.items[0].id === contentId, `after the delete: ${listed.items.map((c) => c.title).join(', ')}`);
  });

  // ---- 2. watch page: hls.js plays, the quality menu switches rungs
  await step('2. the player plays and the quality menu switches rungs', 60000, async () => {
    await adminPage.goto(`${base}/watch/${contentId}`);
    await adminPage.getByRole('heading', { name: 'Harbour sunrise e2e' }).waitFor();
    const video = adminPage.locator('video');
    await video.waitFor();
    await adminPage.waitForFunction(() => document.querySelectorAll('#quality option').length >= 3);
    await video.evaluate((v) => { v.muted = true; return v.play(); });
    await adminPage.waitForFunction(() => document.querySelector('video').currentTime > 1, null, { timeout: 20000 });
    const options = await adminPage.locator('#quality option').allTextContents();
    expect(options[0] === 'Auto' && options.some((o) => o.startsWith('240p')) && options.some((o) => o.startsWith('144p')),
      `quality menu: ${options.join(' | ')}`);
    const value144 = await adminPage.locator('#quality option', { hasText: '144p' }).getAttribute('value');
    await adminPage.locator('#quality').selectOption(value144);
    await adminPage.waitForFunction((v) => document.querySelector('video').dataset.level === v, value144, { timeout: 20000 });
    await adminPage.waitForFunction(() => document.querySelector('video').videoHeight === 144, null, { timeout: 20000 });
    await shot(adminPage, 'watch-desktop');
  });

  // ---- 3. library: search, tags, "only what I can watch"
  await step('3. search finds the video; tags filter; nonsense finds nothing', 30000, async () => {
    await adminPage.goto(`${base}/`);
    await adminPage.getByLabel('Search videos').fill('harbour');
    await adminPage.waitForURL(/\/\?q=harbour$/);
    await adminPage.locator('.card-title', { hasText: 'Harbour sunrise e2e' }).waitFor();
    const badge = await adminPage.locator('.card .badge-ready').first().textContent();
    expect(badge === 'Ready', `status badge "${badge}"`);
    const duration = await adminPage.locator('.card .duration').first().textContent();
    expect(duration === '0:10', `duration "${duration}"`);
    const posterOk = await adminPage.locator('.card .poster img').first().evaluate((img) =>
      img.complete ? img.naturalWidth > 0 : new Promise((r) => { img.onload = () => r(img.naturalWidth > 0); img.onerror = () => r(false); }));
    expect(posterOk, 'the poster did not load');
    await adminPage.getByLabel('Search videos').fill('zebracrossingnotthere');
    await adminPage.getByText('Nothing matches.').waitFor();
    await adminPage.getByLabel('Search videos').fill('');
    await adminPage.locator('.card .tag', { hasText: '#harbour' }).first().click();
    await adminPage.getByRole('button', { name: 'Remove tag filter harbour' }).waitFor();
    await adminPage.locator('.card-title', { hasText: 'Harbour sunrise e2e' }).waitFor();
    await shot(adminPage, 'library-desktop');
  });

  // ---- 4. gate it with the form; refusal for a non-holder, playback for a holder
  const contract = chainA.contracts.erc721;
  await step('4a. the owner (admin) gates the video with the policy form', 30000, async () => {
    await adminPage.goto(`${base}/watch/${contentId}`);
    await adminPage.getByLabel('Only holders of tokens').check();
    const row = adminPage.locator('.condition-row').first();
    await row.getByLabel('Chain').selectOption(chainA.id);
    await row.getByLabel('Standard').selectOption('erc721');
    await row.getByLabel('Contract').fill('0x1234');
    await adminPage.getByRole('button', { name: 'Save access' }).click();
    await adminPage.getByRole('alert').filter({ hasText: 'any[0].contract' }).waitFor();
    await row.getByLabel('Contract').fill(contract);
    await adminPage.getByRole('button', { name: 'Save access' }).click();
    await adminPage.getByText('Access saved.').waitFor();
    await adminPage.locator('.badge-gated').waitFor();
    const policy = await (await fetch(`${base}/api/v1/content/${contentId}/policy`)).json();
    expect(JSON.stringify(policy) === JSON.stringify({ any: [{ chain: chainA.id, standard: 'erc721', contract: contract.toLowerCase(), min_balance: '1' }] }),
      `stored policy ${JSON.stringify(policy)}`);
  });

  await step('4b. anonymous viewers are asked to sign in and told what is needed', 30000, async () => {
    const anon = await newContext(DESKTOP);
    const page = await anon.newPage();
    await page.goto(`${base}/watch/${contentId}`);
    const refusal = page.locator('.refusal');
    await refusal.waitFor();
    const text = await refusal.textContent();
    expect(text.includes(contract.toLowerCase()) && text.includes('eip155:1337'), `refusal text: ${text}`);
    await page.getByRole('link', { name: 'Sign in with a wallet' }).waitFor();
    await anon.close();
  });

  await step('4c. a wallet without the token signs in and is refused with the reason', 40000, async () => {
    const context = await newContext(DESKTOP);
    await injectWallet(context, stranger.private_key, 1);  // on chain 1: the app switches
    const page = await context.newPage();
    await signInWithWallet(page, base);
    const who = await page.locator('#account .who').textContent();
    expect(who.toLowerCase().startsWith(stranger.address.slice(0, 6).toLowerCase()), `header shows ${who}`);
    await page.goto(`${base}/watch/${contentId}`);
    const refusal = page.locator('.refusal');
    await refusal.waitFor();
    const text = await refusal.textContent();
    expect(text.includes('does not hold') && text.includes(contract.toLowerCase()) && text.includes('you have 0'), `refusal: ${text}`);
    await shot(page, 'watch-refused-desktop');
    // "Only what I can watch" hides it from this wallet.
    await page.goto(`${base}/?playable=1`);
    await page.locator('.result-count').filter({ hasText: /video|Nothing|No videos/ }).waitFor();
    expect(await page.locator('.card-title', { hasText: 'Harbour sunrise e2e' }).count() === 0,
      'the gated video is listed as playable for a non-holder');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#account a', { hasText: 'Sign in' }).waitFor();
    await context.close();
  });

  await step('4d. a holder signs in and plays the gated video', 60000, async () => {
    const context = await newContext(DESKTOP);
    await injectWallet(context, holder.private_key, 1337);
    const page = await context.newPage();
    await signInWithWallet(page, base);
    await page.goto(`${base}/?playable=1`);
    await page.locator('.card-title', { hasText: 'Harbour sunrise e2e' }).waitFor();
    await page.goto(`${base}/watch/${contentId}`);
    const video = page.locator('video');
    await video.waitFor();
    await video.evaluate((v) => { v.muted = true; return v.play(); });
    await page.waitForFunction(() => document.querySelector('video').currentTime > 1, null, { timeout: 20000 });
    expect(await page.locator('.owner-tools form').count() === 0, 'a viewer sees the owner tools');
    await shot(page, 'watch-holder-desktop');
    await page.goto(`${base}/account`);
    await page.getByText('Signed in with the wallet').waitFor();
    const shown = await page.locator('code.address').textContent();
    expect(shown === holder.address, `account page shows ${shown}, wallet is ${holder.address}`);

    // The access token runs out while two tabs are open and both load a page at once.
    // Refresh tokens rotate and a reused one revokes the sign-in, so a tab must use what
    // another tab already rotated: both stay signed in and the gated list works in each.
    // This found a real race: Chromium shows one tab's localStorage write to another tab
    // asynchronously, so the second tab refreshed with the rotated-away token about one run
    // in three; the app now keeps the refresh token in IndexedDB under the lock.
    const before = await page.evaluate(() => {
      const session = JSON.parse(localStorage.getItem('streamgate.session'));
      session.expires_at = 0;
      localStorage.setItem('streamgate.session', JSON.stringify(session));
      return session.refresh_token;
    });
    const tabs = [page, await context.newPage()];
    await Promise.all(tabs.map((tab) => tab.goto(`${base}/?playable=1`)));
    for (const [i, tab] of tabs.entries()) {
      try {
        await tab.locator('.card-title', { hasText: 'Harbour sunrise e2e' }).waitFor({ timeout: 10000 });
        await tab.locator('#account .who').waitFor({ timeout: 10000 });
      } catch (error) {
        const state = await tab.evaluate(() => `header "${document.getElementById('account').innerText}", ` +
          `main "${document.getElementById('main').innerText.slice(0, 200)}", session ${localStorage.getItem('streamgate.session') ? 'present' : 'gone'}`);
        throw new Error(`tab ${i + 1} after the expiry: ${state}`);
      }
    }
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem('streamgate.session')));
    expect(after.refresh_token !== before && after.expires_at > Date.now(), 'the session was not refreshed');
    const me = await page.evaluate(async (token) =>
      (await fetch('/api/v1/auth/me', { headers: { Authorization: `Bearer ${token}` } })).status, after.access_token);
    expect(me === 200, `the refreshed access token is refused: ${me}`);
    const reuse = await fetch(`${base}/api/v1/auth/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: after.refresh_token }) });
    expect(reuse.status === 200, `the current refresh token is not valid (${reuse.status}): the tabs revoked the sign-in`);
    await context.close();
  });

  await step('4e. the owner edits the details and makes it private', 30000, async () => {
    await adminPage.goto(`${base}/watch/${contentId}`);
    const details = adminPage.locator('form', { has: adminPage.getByRole('heading', { name: 'Details' }) });
    await details.getByLabel('Title').fill('Harbour at dawn e2e');
    await details.getByLabel('Tags').fill('e2e, harbour, dawn');
    await details.getByLabel('Visibility').selectOption('private');
    await details.getByRole('button', { name: 'Save details' }).click();
    await details.getByText('Details saved.').waitFor();
    await adminPage.getByRole('heading', { name: 'Harbour at dawn e2e' }).waitFor();
    const record = await (await fetch(`${base}/api/v1/content/${contentId}`, { headers: { Authorization: `Bearer ${apiKey}` } })).json();
    expect(record.title === 'Harbour at dawn e2e' && record.visibility === 'private' &&
      record.tags.join(',') === 'dawn,e2e,harbour', `stored: ${JSON.stringify(record).slice(0, 300)}`);
    // Private: not listed, and not there at all for others.
    const publicList = await (await fetch(`${base}/api/v1/content`)).json();
    expect(publicList.items.every((c) => c.id !== contentId), 'a private video is listed publicly');
    expect((await fetch(`${base}/api/v1/content/${contentId}`)).status === 404, 'a private video is visible anonymously');
    expect((await fetch(`${base}/api/v1/content/${contentId}/poster.jpg`)).status === 404, 'a private poster is public');
  });

  // ---- 5. every page at both sizes: overflow, names, layout shift, keyboard; screenshots
  // The phone pass runs in dark mode, so both colour schemes get the contrast audit.
  for (const [size, viewport, scheme] of [['desktop', DESKTOP, 'light'], ['phone', PHONE, 'dark']]) {
    await step(`5. pages at ${size} size (${scheme})`, 60000, async () => {
      const context = await newContext(viewport, scheme);
      await context.addInitScript((key) => {
        if (location.protocol === 'http:') sessionStorage.setItem('streamgate.api_key', key);
      }, apiKey);
      const page = await context.newPage();
      // Each page with the condition that says its data has arrived.
      for (const [name, path, ready] of [
        // The video is private now: its poster comes through fetch with the token (a blob).
        ['library', '/', () => {
          const img = document.querySelector('.grid[aria-busy="false"] .card .poster img');
          return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
        }],
        ['upload', '/upload', () => document.querySelector('.dropzone')],
        ['watch', `/watch/${contentId}`, () => document.querySelectorAll('#quality option').length >= 3 &&
          document.querySelector('.policy-form')],
        ['account', '/account', () => document.querySelector('.panel')],
      ]) {
        await page.goto(`${base}${path}`);
        await page.waitForFunction(ready, null, { timeout: 15000 });
        await sleep(500); // late shifts (posters, fonts) would land in this window
        await pageChecks(page, `${name} (${size})`);
        const shift = await layoutShift(page);
        expect(shift < 0.1, `${name} (${size}): layout shift ${shift.toFixed(3)} >= 0.1`);
        if (size === 'phone' || !existsSync(join(shotDir, `${name}-desktop.png`))) await shot(page, `${name}-${size}`);
      }
      // Keyboard: the skip link comes first, then the header; Tab reaches the search box.
      await page.goto(`${base}/`);
      await page.locator('.card-title').first().waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement.className) === 'skip', 'Tab 1 is not the skip link');
      let reached = false;
      for (let i = 0; i < 12 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement.id === 'search');
      }
      expect(reached, 'Tab never reached the search box');
      await page.keyboard.type('harbour');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\?q=harbour/);
      await context.close();
    });
  }

  expect(pageErrors.length === 0, `errors in the pages: ${pageErrors.join(' | ')}`);
  console.log(`ok: screenshots in ${shotDir}; timings: ${timings.join(', ')}`);
} catch (error) {
  console.error(`FAIL: ${error.message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  console.error(`server log (last 40 lines):\n${serverLog.text.split('\n').slice(-40).join('\n')}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), sleep(10000)]);
  }
  if (fixture) fixture.stdin.end();
  cleanup();
  rmSync(dir, { recursive: true, force: true });
}
