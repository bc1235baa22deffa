// Shared pieces of the browser tests: start the real server, drive the
// system Chromium, make real image bytes, and the upload scenario itself.
// The scenario takes the page and a `readObject(key, viewUrl)` function, so
// the same test runs against the built-in local bucket (read back from disk)
// or a real S3-compatible bucket on another origin (read back over HTTP).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOT_DIR = join(REPO, 'target', 'e2e-screenshots');
const BIN = process.env.PRESIGN_BIN || join(REPO, 'target', 'release', 'presign');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// ---- the server ------------------------------------------------------------

/**
 * Runs `presign serve --listen 127.0.0.1:0` with exactly `env` (plus PATH and
 * a throwaway HOME, so no ~/.aws of the machine leaks in) and resolves once it
 * prints its address.
 */
export async function startServer({ env = {}, timeoutMs = 10_000 } = {}) {
  const home = await mkdtemp(join(tmpdir(), 'presign-e2e-home-'));
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH, HOME: home, RATE_LIMIT_PER_MINUTE: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise(resolve => child.once('exit', resolve));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);  // never leave a server behind, even on a crash
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server printed no address in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const collect = chunk => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].endsWith('/') ? match[1] : `${match[1]}/`);
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    child.once('error', err => { clearTimeout(timer); reject(err); });
    exited.then(code => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening:\n${output}`)); });
  });
  return {
    url,
    output: () => output,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A server with the built-in local bucket in a fresh directory. */
export async function startLocalServer(extraEnv = {}) {
  const bucketDir = await mkdtemp(join(tmpdir(), 'presign-e2e-bucket-'));
  const server = await startServer({ env: { LOCAL_BUCKET_DIR: bucketDir, ...extraEnv } });
  const readObject = key => readFile(join(bucketDir, ...key.split('/')));
  const stop = async () => {
    await server.stop();
    await rm(bucketDir, { recursive: true, force: true });
  };
  return { ...server, stop, bucketDir, readObject };
}

/** Every file under `dir`, as paths relative to it, temporary files included. */
export async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter(e => e.isFile())
    .map(e => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

// ---- the browser -----------------------------------------------------------

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 20_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Opens the page in a fresh context and records what must not happen:
 * uncaught errors, CSP violations and traffic leaving the machine.
 * `check()` asserts none happened; other console errors are only logged,
 * since a refused PUT legitimately logs "Failed to load resource".
 */
export async function openPage(browser, url, { viewport = { width: 1280, height: 800 }, colorScheme = 'light', log = () => {} } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  const apiPosts = [];
  page.on('console', message => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    log(`console ${message.type()}: ${message.text()}`);
    if (/Content Security Policy|Refused to (load|apply|execute|connect|evaluate)/i.test(message.text())) {
      problems.push(`CSP violation: ${message.text()}`);
    }
  });
  page.on('pageerror', err => problems.push(`uncaught: ${err.message}`));
  page.on('request', request => {
    const target = new URL(request.url());
    if (/^https?:$/.test(target.protocol) && !LOOPBACK.has(target.hostname)) problems.push(`off-machine request: ${request.url()}`);
    if (request.method() === 'POST' && target.pathname === '/api/uploads') apiPosts.push(request.postData() ?? '');
  });
  const response = await page.goto(url);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  await page.waitForFunction(() => !/Checking/.test(document.querySelector('presign-uploader')?.shadowRoot?.querySelector('#limits')?.textContent ?? 'Checking'));
  return {
    context,
    page,
    apiPosts,
    check: () => assert.deepEqual(problems, [], 'the page misbehaved'),
    close: () => context.close(),
  };
}

// ---- image bytes -----------------------------------------------------------

/** A valid RGB PNG; `noise` makes it incompressible, so its size is about width*height*3. */
export function makePng(width, height, { seed = 1, noise = false } = {}) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);  // 8 bits per channel, truecolour, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  let state = seed >>> 0 || 1;
  for (let y = 0, i = 0; y < height; y++) {
    rows[i++] = 0;  // filter: none
    for (let x = 0; x < width; x++) {
      if (noise) {
        for (let c = 0; c < 3; c++) { state ^= state << 13; state ^= state >>> 17; state ^= state << 5; rows[i++] = state & 255; }
      } else {
        rows[i++] = (x * 255) / width + seed * 40;
        rows[i++] = (y * 255) / height;
        rows[i++] = 160 + seed * 30;
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: noise ? 0 : 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real JPEG, encoded by the browser's own canvas. */
export async function makeJpeg(page, width, height) {
  const bytes = await page.evaluate(async ([w, h]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext('2d');
    const sky = g.createLinearGradient(0, 0, 0, h);
    sky.addColorStop(0, '#f6a04d');
    sky.addColorStop(1, '#5b3f8c');
    g.fillStyle = sky;
    g.fillRect(0, 0, w, h);
    g.fillStyle = '#ffe7a8';
    g.beginPath();
    g.arc(w * 0.7, h * 0.45, h * 0.18, 0, Math.PI * 2);
    g.fill();
    const blob = await new Promise(resolve => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  }, [width, height]);
  const buffer = Buffer.from(bytes);
  assert.deepEqual([...buffer.subarray(0, 3)], [0xff, 0xd8, 0xff], 'canvas made no JPEG');
  return buffer;
}

export const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');

// ---- driving the page ------------------------------------------------------

/**
 * In the page: whether the focused element, looked up through open shadow
 * roots (document.activeElement is only the <presign-uploader> host), matches
 * `selector`.
 */
export function focusedMatches(page, selector) {
  return page.evaluate(sel => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return !!el?.matches(sel);
  }, selector);
}

/** In the page: the computed outline style of the focused element, through shadow roots. */
export function focusedOutlineStyle(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return getComputedStyle(el).outlineStyle;
  });
}

/** Drops files on the drop zone the way a browser does: dragenter, dragover, drop. */
export async function dropFiles(page, files) {
  const payload = files.map(f => ({ name: f.name, type: f.mimeType, base64: f.buffer.toString('base64') }));
  await page.evaluate(list => {
    const transfer = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.base64), c => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const zone = document.querySelector('presign-uploader').shadowRoot.querySelector('#drop-zone');
    // Composed, as the browser's own drag events are: they leave the shadow root.
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, composed: true, dataTransfer: transfer }));
    }
  }, payload);
}

const exactly = text => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
/** The row of the file called exactly `name`. */
export const row = (page, name) => page.locator('li.upload').filter({ has: page.locator('.name', { hasText: exactly(name) }) });

/** What a row shows; `viewUrl` is the link to the stored object once done. */
export async function readRow(page, name) {
  return row(page, name).evaluate(li => ({
    state: li.dataset.state,
    error: li.querySelector('.upload-error').hidden ? '' : li.querySelector('.upload-error').textContent,
    hint: li.querySelector('.upload-hint').hidden ? '' : li.querySelector('.upload-hint').textContent,
    key: li.querySelector('.upload-key').textContent,
    viewUrl: li.querySelector('.thumb').getAttribute('href') ?? '',
  }));
}

/** Waits until the row of `name` is in `state`, failing early (with the row's error) if it settles otherwise. */
export async function waitForState(page, name, state, timeout = 15_000) {
  const states = new Set([state, 'done', 'failed', 'cancelled']);
  await row(page, name).and(page.locator([...states].map(s => `[data-state="${s}"]`).join(', '))).waitFor({ timeout });
  const shown = await readRow(page, name);
  assert.equal(shown.state, state, `${name}: ${shown.error} ${shown.hint}`);
  return shown;
}

/** Resolves once the thumbnail of `name` shows a loaded image from `src`; returns its natural width. */
export async function loadedImageWidth(page, name, src, timeout = 10_000) {
  const img = row(page, name).locator('img');
  await img.evaluate((el, url) => new Promise((resolve, reject) => {
    const check = () => el.src === url && el.complete && el.naturalWidth > 0;
    if (check()) return resolve();
    el.addEventListener('load', () => (check() ? resolve() : undefined));
    el.addEventListener('error', () => reject(new Error(`preview failed to load: ${el.src}`)));
  }), src, { timeout });
  return img.evaluate(el => el.naturalWidth);
}

/**
 * The main journey: two images through the file input, one dropped, all
 * uploaded, each stored byte for byte and previewed from its viewUrl.
 */
export async function runUploadScenario({ page, readObject }) {
  const files = [
    { name: 'gradient.png', mimeType: 'image/png', buffer: makePng(320, 200, { seed: 1 }), width: 320 },
    { name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: await makeJpeg(page, 360, 240), width: 360 },
    { name: 'dropped.png', mimeType: 'image/png', buffer: makePng(200, 300, { seed: 3 }), width: 200 },
  ];
  await page.setInputFiles('#file-input', files.slice(0, 2).map(({ name, mimeType, buffer }) => ({ name, mimeType, buffer })));
  await dropFiles(page, files.slice(2));
  const results = [];
  for (const file of files) {
    const shown = await waitForState(page, file.name, 'done');
    const extension = file.mimeType === 'image/png' ? 'png' : 'jpg';
    assert.match(shown.key, new RegExp(`^[\\w/-]+\\.${extension}$`), 'key takes its extension from the type');
    assert.ok(!shown.key.includes(file.name.split('.')[0]), 'key must not leak the file name');
    const stored = await readObject(shown.key, shown.viewUrl);
    assert.ok(Buffer.from(stored).equals(file.buffer), `${file.name}: stored object differs from the original`);
    assert.equal(await loadedImageWidth(page, file.name, shown.viewUrl), file.width, `${file.name}: preview from viewUrl`);
    results.push(shown);
  }
  assert.match(await page.locator('#overall').textContent(), /^3 of 3 uploaded/);
  assert.equal(new Set(results.map(r => r.key)).size, 3, 'every upload gets its own key');
  return results;
}

// ---- fixtures from packaged tools --------------------------------------------

// Pillow (pinned; .ci/run installs it into this virtualenv) and Debian's heif-enc.
const PYTHON = process.env.E2E_PYTHON || join(REPO, 'target', 'e2e-venv', 'bin', 'python');
const FIXTURES = join(REPO, 'tests', 'e2e', 'fixtures.py');

async function inTempDir(work) {
  const dir = await mkdtemp(join(tmpdir(), 'presign-e2e-fixture-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fixture made by fixtures.py: `kind` is rotated-jpeg or animated-gif, at least `minBytes` long. */
export function makeFixture(kind, minBytes) {
  return inTempDir(async dir => {
    const out = join(dir, 'fixture');
    execFileSync(PYTHON, [FIXTURES, kind, out, String(minBytes)], { stdio: ['ignore', 'ignore', 'inherit'] });
    return readFile(out);
  });
}

/** What fixtures.py decodes from image bytes: format, size, frames, EXIF tags, top and bottom colours. */
export function describeImage(bytes) {
  return inTempDir(async dir => {
    const file = join(dir, 'image');
    await writeFile(file, bytes);
    return JSON.parse(execFileSync(PYTHON, [FIXTURES, 'describe', file], { encoding: 'utf8' }));
  });
}

/** A real HEIC photo: `png` encoded by libheif's heif-enc (Debian libheif-examples). */
export function makeHeic(png) {
  return inTempDir(async dir => {
    await writeFile(join(dir, 'in.png'), png);
    execFileSync('heif-enc', ['-q', '60', '-o', join(dir, 'out.heic'), join(dir, 'in.png')], { stdio: ['ignore', 'ignore', 'inherit'] });
    return readFile(join(dir, 'out.heic'));
  });
}
