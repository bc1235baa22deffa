// An upload link that expires before the PUT: the row explains it, and Retry
// asks for a fresh link. The server signs links valid for 1 second only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  launchBrowser, makePng, openPage, row, sleep, startLocalServer, waitForState,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startLocalServer({ UPLOAD_EXPIRES_SECONDS: '1' }), launchBrowser()]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

test('an expired link shows the expiry hint, and retry succeeds with a fresh one', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const hold = async route => {
      if (route.request().method() === 'PUT') await sleep(2_500);
      await route.continue();
    };
    await page.route('**/s3/**', hold);
    const buffer = makePng(120, 80, { seed: 4 });
    await page.setInputFiles('#file-input', { name: 'late.png', mimeType: 'image/png', buffer });
    const failed = await waitForState(page, 'late.png', 'failed');
    assert.equal(failed.error, 'Request has expired (AccessDenied)');
    assert.match(failed.hint, /link expired.*Retry asks for a fresh link/);
    assert.equal(session.apiPosts.length, 1, 'an expired link is not retried by itself');

    await page.unroute('**/s3/**', hold);
    await row(page, 'late.png').locator('.retry').click();
    const done = await waitForState(page, 'late.png', 'done');
    assert.equal(session.apiPosts.length, 2, 'retry asked for a fresh link');
    assert.ok((await server.readObject(done.key)).equals(buffer));
    assert.ok(await row(page, 'late.png').locator('.upload-hint').isHidden(), 'the old hint is gone');
    session.check();
  } finally {
    await session.close();
  }
});
