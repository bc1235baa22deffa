// CORS for ALLOWED_ORIGINS in a real browser: a page served from another
// origin (another port of 127.0.0.1, so the browser enforces CORS) calls
// POST /api/uploads with an Authorization header, which makes Chromium send
// a preflight first. A listed origin gets its upload URL and PUTs the file
// to the local bucket (another preflight, for the signed headers), reading
// the ETag; an unlisted one is blocked by the browser.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { launchBrowser, startLocalServer } from './harness.mjs';

const TOKEN = 'e2e-cors-token-0123456789abcdef0123';
const PAGE = '<!doctype html><title>another origin</title><p>another origin</p>';

let browser;
let server;
let listed;
let unlisted;

/** A plain page on 127.0.0.1:<port>; resolves to its origin and a close function. */
function servePage() {
  const http = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(PAGE);
  });
  return new Promise(resolve => http.listen(0, '127.0.0.1', () => resolve({
    origin: `http://127.0.0.1:${http.address().port}`,
    close: () => new Promise(done => http.close(done)),
  })));
}

/** In a page of `origin`, POSTs an upload request to the server; resolves to what the page saw. */
async function postFrom(origin) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return await page.evaluate(async ({ api, token }) => {
      try {
        const response = await fetch(api, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'filename=a.png&type=image%2Fpng&size=10',
        });
        const body = await response.json();
        if (response.status !== 201) return { status: response.status, body };
        const put = await fetch(body.url, { method: 'PUT', headers: body.headers, body: new Uint8Array(10).fill(7) });
        return { status: response.status, body, putStatus: put.status, etag: put.headers.get('etag') };
      } catch (err) {
        return { blocked: String(err) };
      }
    }, { api: `${server.url}api/uploads`, token: TOKEN });
  } finally {
    await context.close();
  }
}

before(async () => {
  [listed, unlisted, browser] = await Promise.all([servePage(), servePage(), launchBrowser()]);
  server = await startLocalServer({ ALLOWED_ORIGINS: listed.origin, API_TOKEN: TOKEN });
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop(), listed?.close(), unlisted?.close()]);
});

test('a listed origin gets through the preflights, receives its upload URL and uploads to the local bucket', async () => {
  const seen = await postFrom(listed.origin);
  assert.equal(seen.status, 201, JSON.stringify(seen));
  assert.match(seen.body.url, /X-Amz-Signature=/);
  assert.equal(seen.putStatus, 200, JSON.stringify(seen));
  assert.match(seen.etag ?? '', /^"[0-9a-f]{32}"$/, JSON.stringify(seen));
});

test('an origin not in ALLOWED_ORIGINS is blocked by the browser', async () => {
  const seen = await postFrom(unlisted.origin);
  assert.match(seen.blocked ?? '', /Failed to fetch/, JSON.stringify(seen));
});
