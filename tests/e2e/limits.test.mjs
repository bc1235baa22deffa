// Refused files: checked in the page against GET /api/config and never sent.
// The server runs with UPLOAD_MAX_BYTES=2048 so a small real PNG is "too big".
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  SVG, launchBrowser, listFiles, makePng, openPage, readRow, row, startLocalServer, waitForState,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startLocalServer({ UPLOAD_MAX_BYTES: '2048' }), launchBrowser()]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

test('a disallowed type and an oversized file are explained and never sent', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    assert.match(await page.locator('#limits').textContent(), /up to 2 KB each/);
    const large = makePng(64, 64, { noise: true });
    await page.setInputFiles('#file-input', [
      { name: 'small.png', mimeType: 'image/png', buffer: makePng(8, 8) },
      { name: 'drawing.svg', mimeType: 'image/svg+xml', buffer: SVG },
      { name: 'large.png', mimeType: 'image/png', buffer: large },
    ]);
    await waitForState(page, 'small.png', 'done');
    const svg = await waitForState(page, 'drawing.svg', 'failed');
    assert.equal(svg.error, 'SVG files are not allowed');
    assert.equal(svg.hint, 'Allowed: JPEG, PNG, GIF, WebP, AVIF.');
    const big = await waitForState(page, 'large.png', 'failed');
    assert.equal(big.error, `${(large.length / 1024).toFixed(1)} KB is over the 2 KB limit`);
    for (const name of ['drawing.svg', 'large.png']) {
      assert.ok(await row(page, name).locator('.retry').isHidden(), 'retrying a refused file cannot help');
      assert.ok(await row(page, name).locator('.remove').isVisible());
    }
    // Only the allowed file asked for a URL, and only it is in the bucket.
    assert.deepEqual(session.apiPosts.map(body => new URLSearchParams(body).get('filename')), ['small.png']);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(session.apiPosts[0])), { filename: 'small.png', type: 'image/png', size: String(makePng(8, 8).length) });
    assert.equal((await listFiles(server.bucketDir)).length, 1);
    assert.match(await page.locator('#overall').textContent(), /^1 of 1 uploaded$/);
    session.check();
  } finally {
    await session.close();
  }
});

test('a refusal by the API itself is shown with its message', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    // A page whose limits are out of date: it lets the file through, the server does not.
    await page.route('**/api/config', async route => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), maxBytes: 1 << 20 } });
    });
    await page.reload();
    await page.locator('#limits', { hasText: /1 MB/ }).waitFor();
    await page.setInputFiles('#file-input', { name: 'large.png', mimeType: 'image/png', buffer: makePng(64, 64, { noise: true }) });
    const shown = await waitForState(page, 'large.png', 'failed');
    assert.match(shown.error, /limit is 2048 bytes/);
    assert.equal(session.apiPosts.length, 1, 'a 413 is final, not retried');
    assert.ok(await row(page, 'large.png').locator('.retry').isVisible());
    assert.equal((await readRow(page, 'large.png')).key, '');
    session.check();
  } finally {
    await session.close();
  }
});
