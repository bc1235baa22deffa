// Many files at once, with the server's DEFAULT rate limit (60 API requests
// per minute per address): single-PUT URLs are signed in batches of at most
// 20, just in time, so 150 dropped images cost a handful of requests and all
// arrive. A 429 or 503 with Retry-After is waited out by the page itself; a
// refusal that does not go away is shown once, in the server's own words.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  dropFiles, launchBrowser, makePng, openPage, readRow, row, startLocalServer, waitForState,
} from './harness.mjs';

const BUSY = 'Too many uploads from your address; wait a moment and try again.';

let server;
let browser;

before(async () => {
  // RATE_LIMIT_PER_MINUTE: null leaves it unset: the server's default applies.
  [server, browser] = await Promise.all([startLocalServer({ RATE_LIMIT_PER_MINUTE: null }), launchBrowser()]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

test('150 images dropped at once all arrive under the default rate limit', { timeout: 180_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const refused = [];
    const batchSizes = [];
    page.on('request', request => {
      if (new URL(request.url()).pathname === '/api/uploads/batch') batchSizes.push(JSON.parse(request.postData()).files.length);
    });
    page.on('response', response => {
      if (response.status() === 429) refused.push(response.url());
    });
    const files = Array.from({ length: 150 }, (_, i) => ({
      name: `photo-${String(i + 1).padStart(3, '0')}.png`,
      mimeType: 'image/png',
      buffer: makePng(24, 16, { noise: true, seed: i + 1 }),
    }));
    await dropFiles(page, files);
    await page.locator('#overall', { hasText: /^150 of 150 uploaded/ }).waitFor({ timeout: 150_000 });
    for (const file of files) {
      const shown = await readRow(page, file.name);
      assert.equal(shown.state, 'done', `${file.name}: ${shown.error}`);
      assert.ok((await server.readObject(shown.key)).equals(file.buffer), `${file.name}: stored object differs`);
    }
    t.diagnostic(`batches: ${JSON.stringify(batchSizes)}; 429 answers: ${refused.length}`);
    assert.equal(batchSizes.reduce((a, b) => a + b, 0), 150, 'each file signed once');
    assert.ok(batchSizes.every(n => n >= 1 && n <= 20), 'at most 20 files per batch');
    assert.ok(batchSizes.length <= 15, `${batchSizes.length} batch requests for 150 files`);
    assert.deepEqual(refused, [], 'the rate limit was never hit');
    session.check();
  } finally {
    await session.close();
  }
});

test('a 429 with Retry-After is waited out by itself, said once, and nothing fails', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    let posts = 0;
    await page.route('**/api/uploads/batch', route => (++posts === 1
      ? route.fulfill({ status: 429, headers: { 'retry-after': '2' }, json: { error: 'rate_limited', message: BUSY } })
      : route.fallback()));
    const buffer = makePng(40, 40, { seed: 2 });
    await page.setInputFiles('#file-input', { name: 'patient.png', mimeType: 'image/png', buffer });
    const status = row(page, 'patient.png').locator('.status');
    await status.filter({ hasText: `${BUSY} Continuing in 2 s…` }).waitFor({ timeout: 5_000 });
    const waiting = await readRow(page, 'patient.png');
    assert.equal(waiting.state, 'uploading');
    assert.deepEqual([waiting.error, waiting.hint], ['', ''], 'a wait is not an error');
    const shown = await waitForState(page, 'patient.png', 'done');
    assert.equal(posts, 2);
    assert.ok((await server.readObject(shown.key)).equals(buffer));
    session.check();
  } finally {
    await session.close();
  }
});

test('a 429 that does not go away is shown once, in the server\'s words', { timeout: 60_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    let posts = 0;
    // No Retry-After: the page's own back-off, three times, then it gives up.
    await page.route('**/api/uploads/batch', route => {
      posts++;
      return route.fulfill({ status: 429, json: { error: 'rate_limited', message: BUSY } });
    });
    await page.setInputFiles('#file-input', { name: 'refused.png', mimeType: 'image/png', buffer: makePng(8, 8) });
    const shown = await waitForState(page, 'refused.png', 'failed', 30_000);
    assert.equal(posts, 4, 'tried once and retried three times');
    assert.equal(shown.error, BUSY);
    assert.equal(shown.hint, '', 'no second sentence saying the same');
    assert.equal(await row(page, 'refused.png').locator('.upload-error, .upload-hint, .status').evaluateAll(els => els.filter(e => !e.hidden && e.textContent).length), 1);
    session.check();
  } finally {
    await session.close();
  }
});
