// <presign-uploader> embedded in a page of another site (another port of
// 127.0.0.1, so the browser applies CORS): the host page loads the module
// from the presign server under its own strict CSP, restyles it with a
// --presign-* property, uploads two images and hears both upload-complete
// events with their keys; a site not in ALLOWED_ORIGINS gets nothing.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import {
  launchBrowser, listFiles, makeJpeg, makePng, openPage, readRow, startLocalServer, waitForState,
} from './harness.mjs';

const ACCENT = 'rgb(200, 0, 100)';

let browser;
let server;
let listed;
let unlisted;

/** A host site on its own port: a page embedding the element, its script and stylesheet. */
function serveHost() {
  const http = createServer((request, response) => {
    const presign = server.url.replace(/\/$/, '');
    const files = {
      '/': ['text/html', `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host site</title>
<link rel="stylesheet" href="/host.css">
<script type="module" src="${presign}/uploader-v1.js"></script>
<script type="module" src="/host.js"></script>
</head><body><h1>Your profile</h1>
<presign-uploader endpoint="${presign}"></presign-uploader>
</body></html>`],
      '/host.js': ['text/javascript', `window.uploadEvents = [];
for (const type of ['upload-complete', 'upload-error']) {
  document.querySelector('presign-uploader').addEventListener(type, e => window.uploadEvents.push({ type, ...e.detail }));
}`],
      '/host.css': ['text/css', `presign-uploader { --presign-accent: ${ACCENT}; max-width: 40rem; }`],
    };
    const [type, body] = files[new URL(request.url, 'http://x').pathname] ?? ['text/plain', 'not found'];
    response.writeHead(type === 'text/plain' ? 404 : 200, {
      'content-type': `${type}; charset=utf-8`,
      // The host's own strict policy, naming the presign server where the element needs it.
      'content-security-policy': `default-src 'self'; script-src 'self' ${presign}; style-src 'self' ${presign}; `
        + `connect-src 'self' ${presign}; img-src 'self' blob: ${presign}; object-src 'none'`,
    });
    response.end(body);
  });
  return new Promise(resolve => http.listen(0, '127.0.0.1', () => resolve({
    origin: `http://127.0.0.1:${http.address().port}`,
    close: () => new Promise(done => http.close(done)),
  })));
}

before(async () => {
  browser = await launchBrowser();
  // The host servers read server.url when asked, so they may start first.
  [listed, unlisted] = await Promise.all([serveHost(), serveHost()]);
  server = await startLocalServer({ ALLOWED_ORIGINS: listed.origin });
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop(), listed?.close(), unlisted?.close()]);
});

test('a page on a listed origin embeds the element, uploads two images and hears both upload-complete events', async t => {
  const session = await openPage(browser, `${listed.origin}/`, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const files = [
      { name: 'avatar.png', mimeType: 'image/png', buffer: makePng(96, 96, { seed: 7 }) },
      { name: 'cover.jpg', mimeType: 'image/jpeg', buffer: await makeJpeg(page, 480, 160) },
    ];
    await page.setInputFiles('#file-input', files);
    for (const file of files) await waitForState(page, file.name, 'done');
    await page.waitForFunction(() => window.uploadEvents.length >= 2);
    const events = await page.evaluate(() => window.uploadEvents);
    assert.equal(events.length, 2, JSON.stringify(events));
    for (const file of files) {
      const event = events.find(e => e.name === file.name);
      assert.equal(event?.type, 'upload-complete', JSON.stringify(events));
      assert.equal(event.size, file.buffer.length);
      assert.equal(event.key, (await readRow(page, file.name)).key);
      assert.ok((await server.readObject(event.key)).equals(file.buffer), `${file.name} stored byte for byte`);
    }
    assert.equal(session.apiPosts.length, 2);
    const stroke = await page.locator('.drop-icon').evaluate(el => getComputedStyle(el).stroke);
    assert.equal(stroke, ACCENT, 'the host restyles the element with --presign-accent');
    session.check();
  } finally {
    await session.close();
  }
});

test('a page on an origin not in ALLOWED_ORIGINS gets no settings, sends nothing, and the server refuses it', async t => {
  const session = await openPage(browser, `${unlisted.origin}/`, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const before = await listFiles(server.bucketDir);
    assert.match(await page.locator('#page-error').textContent(), /^Upload settings could not be loaded/);
    await page.setInputFiles('#file-input', { name: 'avatar.png', mimeType: 'image/png', buffer: makePng(32, 32) });
    const shown = await waitForState(page, 'avatar.png', 'failed');
    assert.match(shown.error, /^Upload settings could not be loaded/);
    const events = await page.evaluate(() => window.uploadEvents);
    assert.deepEqual(events.map(e => [e.type, e.name]), [['upload-error', 'avatar.png']]);
    assert.deepEqual(await listFiles(server.bucketDir), before, 'nothing stored');

    // What the browser hides (a CORS failure), the server says plainly.
    const refused = await fetch(`${server.url}api/uploads`, {
      method: 'POST',
      headers: { origin: unlisted.origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'filename=a.png&type=image%2Fpng&size=10',
    });
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).error, 'origin_not_allowed');
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${server.url}api/uploads`, {
      method: 'OPTIONS',
      headers: { origin: unlisted.origin, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null, 'no preflight grant either');
    session.check();
  } finally {
    await session.close();
  }
});
