// Browser end-to-end tests of the upload page against the real server.
//
// Run:   cargo build --release && (cd tests/e2e && npm ci && npm test)
// Needs: Node 20+, Debian's Chromium at /usr/bin/chromium (apt-get install chromium;
//        playwright-core drives it, nothing is downloaded). PRESIGN_BIN and
//        CHROMIUM_PATH override the binaries' paths.
//
// Each test file starts `presign serve --listen 127.0.0.1:0` with the local
// bucket in a fresh temp directory and its own environment, and stops it at
// the end. All traffic stays on 127.0.0.1. Every page is checked for
// uncaught errors and CSP violations. Screenshots go to target/e2e-screenshots/.
//
// Files: upload.test.mjs (journey, paste, automatic retry, cancel, keyboard, screenshots),
// limits.test.mjs (refused files), expiry.test.mjs (expired link, retry),
// content.test.mjs (typed by content, HEIC), resize.test.mjs (fitting big images),
// embed.test.mjs (<presign-uploader> on another site), cors.test.mjs, post_form.test.mjs;
// harness.mjs holds the shared server, browser, fixture and scenario helpers
// (fixtures.py makes images with Pillow; heif-enc makes HEIC).
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  SCREENSHOT_DIR, SVG, focusedMatches, focusedOutlineStyle, launchBrowser, listFiles, loadedImageWidth,
  makeJpeg, makePng, openPage, readRow, row, runUploadScenario, sleep, startLocalServer, waitForState,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startLocalServer(), launchBrowser()]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

test('two picked images and one dropped are stored byte for byte and previewed', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  try {
    await runUploadScenario({ page: session.page, readObject: server.readObject });
    assert.equal(session.apiPosts.length, 3);
    session.check();
  } finally {
    await session.close();
  }
});

test('an image pasted from the clipboard is uploaded', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const buffer = makePng(48, 48, { seed: 6 });
    await page.evaluate(base64 => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([Uint8Array.from(atob(base64), c => c.charCodeAt(0))], 'image.png', { type: 'image/png' }));
      document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    }, buffer.toString('base64'));
    const shown = await waitForState(page, 'image.png', 'done');
    assert.ok((await server.readObject(shown.key)).equals(buffer));
    session.check();
  } finally {
    await session.close();
  }
});

test('a 503 from the API and a dropped connection are retried by themselves', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    let posts = 0;
    await page.route('**/api/uploads', route => (++posts === 1
      ? route.fulfill({ status: 503, json: { error: 'unavailable', message: 'Try again shortly.' } })
      : route.fallback()));
    let puts = 0;
    await page.route('**/s3/**', route => (route.request().method() === 'PUT' && ++puts === 1
      ? route.abort('connectionreset')
      : route.fallback()));
    const buffer = makePng(64, 64, { seed: 5 });
    await page.setInputFiles('#file-input', { name: 'flaky.png', mimeType: 'image/png', buffer });
    await row(page, 'flaky.png').locator('.status', { hasText: /^Try again shortly\.; retrying in \d s \(1 of 3\)$/ }).waitFor({ timeout: 5_000 });
    const shown = await waitForState(page, 'flaky.png', 'done');
    assert.deepEqual([posts, puts], [3, 2], 'each attempt asks for a fresh link');
    assert.ok((await server.readObject(shown.key)).equals(buffer));
    session.check();
  } finally {
    await session.close();
  }
});

test('cancelling mid-upload leaves nothing in the bucket', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page, context } = session;
  try {
    const before = await listFiles(server.bucketDir);
    // 8 MB at 200 KB/s takes 40 s: plenty of time to cancel half-way.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 200 * 1024,
    });
    const tickets = [];
    page.on('response', async response => {
      if (response.url().endsWith('/api/uploads')) tickets.push(await response.json());
    });
    const big = makePng(1640, 1640, { noise: true });
    assert.ok(big.length > 8_000_000);
    await page.setInputFiles('#file-input', { name: 'big.png', mimeType: 'image/png', buffer: big });
    await waitForState(page, 'big.png', 'uploading');
    // Cancel only once part of the body is sent and the server holds it in a temp file.
    await page.waitForFunction(() => document.querySelector('presign-uploader').shadowRoot.querySelector('li.upload progress').value >= 2, null, { timeout: 10_000 });
    const partial = (await listFiles(server.bucketDir)).filter(f => !before.includes(f));
    assert.equal(partial.length, 1, 'the server holds the partial upload in one temp file');
    const sent = await row(page, 'big.png').locator('progress').evaluate(p => p.value);
    assert.ok(sent < 100, `progress ${sent}% is mid-upload`);
    await row(page, 'big.png').locator('.cancel').focus();
    await page.keyboard.press('Enter');
    await waitForState(page, 'big.png', 'cancelled');
    assert.ok(await focusedMatches(page, 'li.upload .retry'), 'focus moves from the hidden Cancel to Retry');
    assert.equal(tickets.length, 1);
    // The server notices the cut connection and removes its temp file.
    let left;
    for (let i = 0; i < 30; i++) {
      left = await listFiles(server.bucketDir);
      if (left.join() === before.join()) break;
      await sleep(100);
    }
    assert.deepEqual(left, before, 'the cancelled upload left files behind');
    await assert.rejects(server.readObject(tickets[0].key), { code: 'ENOENT' });
    await sleep(500);
    assert.equal((await readRow(page, 'big.png')).state, 'cancelled', 'a cancelled upload must not restart by itself');
    assert.equal(session.apiPosts.length, 1);
    session.check();
  } finally {
    await session.close();
  }
});

// Playwright turns file-chooser interception on asynchronously when a listener
// is added; a round trip first keeps the key press from winning that race
// (without it about half the runs saw no chooser though the page opened one).
async function chooserFromKey(page, key) {
  const chooser = page.waitForEvent('filechooser', { timeout: 5_000 });
  await page.evaluate(() => 0);
  await page.keyboard.press(key);
  return chooser;
}

test('keyboard only: Tab to the drop zone, Enter opens the picker, progress is announced', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page, context } = session;
  try {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    // Slow the upload a little so the 25 % steps are announced.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 500 * 1024,
    });
    await page.evaluate(() => {
      const region = document.querySelector('presign-uploader').shadowRoot.querySelector('#live-region');
      window.announcements = [];
      new MutationObserver(() => window.announcements.push(region.textContent))
        .observe(region, { childList: true, characterData: true, subtree: true });
    });

    await page.keyboard.press('Tab');
    assert.ok(await focusedMatches(page, '#drop-zone'), 'Tab reaches the drop zone first');
    assert.notEqual(await focusedOutlineStyle(page), 'none', 'focus is visible');
    const chooser = await chooserFromKey(page, 'Enter');
    assert.ok(chooser.isMultiple());
    const buffer = makePng(400, 400, { noise: true });
    await chooser.setFiles({ name: 'keyboard.png', mimeType: 'image/png', buffer });
    const shown = await waitForState(page, 'keyboard.png', 'done');

    const said = await page.evaluate(() => window.announcements);
    t.diagnostic(`announced: ${JSON.stringify(said)}`);
    assert.ok(said.includes('keyboard.png: uploading'), 'start announced');
    // Announced once per quarter, at the first progress event past it.
    const steps = said.map(s => /^keyboard\.png: uploading (\d+)%$/.exec(s)?.[1]).filter(Boolean).map(Number);
    assert.ok(steps.length >= 2, 'progress announced');
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'progress only goes up');
    assert.equal(said.at(-1), 'keyboard.png uploaded');

    // Space opens the picker too.
    assert.ok(await focusedMatches(page, '#drop-zone'), 'focus is still on the drop zone');
    await (await chooserFromKey(page, 'Space')).setFiles([]);

    // Tab on to the row's "Copy key" button and use it.
    for (let i = 0; i < 6 && !(await focusedMatches(page, '.copy-key')); i++) {
      await page.keyboard.press('Tab');
    }
    assert.ok(await focusedMatches(page, '.copy-key'), 'copy button reachable by Tab');
    await page.keyboard.press('Enter');
    await row(page, 'keyboard.png').locator('.copy-key', { hasText: 'Copied' }).waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), shown.key);
    session.check();
  } finally {
    await session.close();
  }
});

test('screenshots at desktop and phone sizes, light and dark', async t => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const variants = [
    { width: 1280, height: 800, colorScheme: 'light' },
    { width: 1280, height: 800, colorScheme: 'dark' },
    { width: 390, height: 844, colorScheme: 'light' },
    { width: 390, height: 844, colorScheme: 'dark' },
  ];
  for (const { width, height, colorScheme } of variants) {
    const session = await openPage(browser, server.url, { viewport: { width, height }, colorScheme, log: m => t.diagnostic(m) });
    const { page } = session;
    try {
      await page.setInputFiles('#file-input', [
        { name: 'harbour-at-dusk.jpg', mimeType: 'image/jpeg', buffer: await makeJpeg(page, 640, 420) },
        { name: 'gradient.png', mimeType: 'image/png', buffer: makePng(300, 300, { seed: 2 }) },
        { name: 'company-logo.svg', mimeType: 'image/svg+xml', buffer: SVG },
      ]);
      for (const name of ['harbour-at-dusk.jpg', 'gradient.png']) {
        const shown = await waitForState(page, name, 'done');
        await loadedImageWidth(page, name, shown.viewUrl);
      }
      await waitForState(page, 'company-logo.svg', 'failed');
      await page.mouse.move(0, 0);  // no hover effects in the picture
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `page scrolls sideways at ${width} px`);
      const file = join(SCREENSHOT_DIR, `upload-${width}x${height}-${colorScheme}.png`);
      await page.screenshot({ path: file, fullPage: true });
      assert.ok((await stat(file)).size > 10_000);
      session.check();
    } finally {
      await session.close();
    }
  }
});
