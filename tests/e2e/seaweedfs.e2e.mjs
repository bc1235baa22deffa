// Browser end-to-end tests of the upload page against a real S3 server on
// another origin: SeaweedFS (the one tests/conformance/seaweedfs.sh runs).
//
// Run:   cargo build --release
//        tests/conformance/seaweedfs.sh start
//        (cd tests/e2e && npm ci && npm run test:seaweedfs)
//        tests/conformance/seaweedfs.sh stop
// Needs: what upload.test.mjs needs, plus the running SeaweedFS and the Python
//        venv the script installs (target/conformance/venv, botocore). The
//        endpoint is SEAWEEDFS_ENDPOINT (default http://127.0.0.1:8333); if
//        nothing healthy answers there every test fails, saying how to start it.
//
// Each test creates its own bucket (admin identity, through botocore:
// tests/conformance/s3_admin.py), starts `presign serve` on 127.0.0.1:<port>
// signing for that bucket as the plain read/write identity of
// tests/conformance/identities.json, then sets the bucket's CORS rule: for the
// page's origin (uploads work; the bytes are read back over HTTP through the
// viewUrl the server signed), or for another origin (the page shows its CORS
// hint and nothing is stored). The page and the bucket are different origins
// (different ports), so the browser enforces CORS as it would against S3.
// Files over the multipart threshold go multipart there: a part whose
// connection is cut is sent again, a cancel aborts the upload (SeaweedFS then
// lists no unfinished upload), and a reload mid-upload is resumed through
// SeaweedFS's own ListParts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  REPO, holdParts, launchBrowser, makeBigPng, makePng, openPage, readRow, row, runUploadScenario, startServer, tempFile, waitForState,
} from './harness.mjs';

const ENDPOINT = (process.env.SEAWEEDFS_ENDPOINT || 'http://127.0.0.1:8333').replace(/\/+$/, '');
const PYTHON = join(REPO, 'target', 'conformance', 'venv', 'bin', 'python');
const S3_ADMIN = join(REPO, 'tests', 'conformance', 's3_admin.py');
const RUN = `${Date.now().toString(36)}-${process.pid}`;
const CORS_HINT = 'The browser could not reach the storage on another site. That usually means the bucket’s CORS rules do not allow this page: see README → CORS for a real bucket.';

let browser;
let user;

/** Runs tests/conformance/s3_admin.py with the venv's botocore; resolves to its JSON answer. */
function s3Admin(...args) {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [S3_ADMIN, ...args], {
      env: { PATH: process.env.PATH, SEAWEEDFS_ENDPOINT: ENDPOINT },
      timeout: 30_000,
    }, (err, stdout, stderr) => {
      if (err) reject(new Error(`s3_admin.py ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/** A CORS preflight for an upload, as the browser sends it; resolves to the response. */
function preflight(url, origin) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,if-none-match' },
    signal: AbortSignal.timeout(5_000),
  });
}

/** A fresh bucket and our server signing for it; the CORS rule is set by the caller. */
async function bucketAndServer(name, extraEnv = {}) {
  const bucket = `presign-e2e-${RUN}-${name}`;
  await s3Admin('create-bucket', bucket);
  const server = await startServer({
    env: {
      ...extraEnv,
      S3_BUCKET_NAME: bucket,
      S3_ENDPOINT: ENDPOINT,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: user.accessKey,
      AWS_SECRET_ACCESS_KEY: user.secretKey,
      AWS_REGION: 'us-east-1',
    },
  });
  const origin = new URL(server.url).origin;
  assert.notEqual(origin, new URL(ENDPOINT).origin, 'page and bucket must be different origins');
  return { bucket, server, origin };
}

before(async () => {
  let health;
  try {
    health = await fetch(`${ENDPOINT}/healthz`, { signal: AbortSignal.timeout(3_000) });
  } catch (err) {
    throw new Error(`SeaweedFS is not reachable at ${ENDPOINT} (${err.cause?.code ?? err.message}). These tests need `
      + 'a running server: tests/conformance/seaweedfs.sh start (or set SEAWEEDFS_ENDPOINT)');
  }
  assert.equal(health.status, 200, `SeaweedFS at ${ENDPOINT} answered ${health.status} to GET /healthz; restart it with tests/conformance/seaweedfs.sh start`);
  await readFile(PYTHON).catch(() => {
    throw new Error(`no ${PYTHON}: tests/conformance/seaweedfs.sh start installs it`);
  });
  const { identities } = JSON.parse(await readFile(join(REPO, 'tests', 'conformance', 'identities.json'), 'utf8'));
  // The plain identity (Read, Write, List; a secret with / + =), as a real deployment would use.
  user = identities.find(i => i.name === 'presign_user').credentials[0];
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('images uploaded through the page arrive in SeaweedFS byte for byte and preview from viewUrl', async t => {
  const { bucket, server, origin } = await bucketAndServer('ok');
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) }).catch(async err => {
    await server.stop();
    throw err;
  });
  const { page } = session;
  try {
    await s3Admin('put-cors', bucket, origin);
    const puts = [];
    page.on('request', request => { if (request.method() === 'PUT') puts.push(request.url()); });

    const bucketUrl = `${ENDPOINT}/${bucket}/`;
    const types = new Map();
    const readObject = async (key, viewUrl) => {
      assert.ok(viewUrl.startsWith(`${bucketUrl}${key}?`), `viewUrl ${viewUrl} is a path-style URL of ${key} on SeaweedFS`);
      assert.match(viewUrl, /[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)/);
      const response = await fetch(viewUrl, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 200, `GET viewUrl of ${key}: ${response.status} ${await response.clone().text()}`);
      types.set(key, response.headers.get('content-type'));
      return Buffer.from(await response.arrayBuffer());
    };
    const results = await runUploadScenario({ page, readObject });

    // The bytes went straight from the page to the bucket, one PUT each.
    assert.equal(puts.length, 3, `PUTs: ${puts.join(' ')}`);
    for (const url of puts) assert.ok(url.startsWith(bucketUrl), `PUT went to ${url}`);
    assert.equal(session.apiPosts.length, 3);

    // What the bucket holds, seen by another identity and another client.
    const listed = await s3Admin('list', bucket);
    assert.deepEqual(listed.map(o => o.key).sort(), results.map(r => r.key).sort(), 'the bucket holds exactly the three uploads');
    for (const { key } of results) {
      const expected = key.endsWith('.png') ? 'image/png' : 'image/jpeg';
      assert.equal(types.get(key), expected, `${key}: Content-Type served through viewUrl`);
      const head = await s3Admin('head', bucket, key);
      assert.equal(head.contentType, expected, `${key}: stored Content-Type`);
    }
    session.check();
  } finally {
    await Promise.all([session.close(), server.stop()]);
  }
});

test('with the bucket’s CORS rule for another origin the page shows its CORS hint and nothing is stored', async t => {
  const { bucket, server, origin } = await bucketAndServer('cors');
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) }).catch(async err => {
    await server.stop();
    throw err;
  });
  const { page } = session;
  try {
    const otherOrigin = 'http://127.0.0.1:1';
    await s3Admin('put-cors', bucket, otherOrigin);
    // The rule is in force: the page's origin is refused, the other one allowed.
    const probe = `${ENDPOINT}/${bucket}/probe.png`;
    const refused = await preflight(probe, origin);
    assert.equal(refused.headers.get('access-control-allow-origin'), null, `preflight from ${origin}: ${refused.status}`);
    const allowed = await preflight(probe, otherOrigin);
    assert.equal(allowed.headers.get('access-control-allow-origin'), otherOrigin, `preflight from ${otherOrigin}: ${allowed.status}`);

    const tickets = [];
    page.on('response', async response => {
      if (new URL(response.url()).pathname === '/api/uploads/batch' && response.status() === 201) tickets.push(...(await response.json()).uploads);
    });
    const name = 'blocked.png';
    await page.setInputFiles('#file-input', { name, mimeType: 'image/png', buffer: makePng(120, 80, { seed: 4 }) });
    // A status-0 failure counts as transient: the page retries with backoff (about 7 s) before it gives up.
    const shown = await waitForState(page, name, 'failed', 30_000);
    t.diagnostic(`after ${session.apiPosts.length} attempts: ${shown.error} | ${shown.hint}`);
    assert.equal(shown.error, 'The upload was interrupted');
    assert.equal(shown.hint, CORS_HINT, 'the CORS hint, not the generic network one');
    const link = row(page, name).locator('.upload-hint a');
    assert.match(await link.getAttribute('href'), /README\.md#cors-for-a-real-bucket$/);
    assert.equal(shown.viewUrl, '', 'no preview link for a failed upload');
    assert.match(await page.locator('#overall').textContent(), /^0 of 1 uploaded · 1 failed$/);

    // Every attempt got a ticket for its own key, and none of them reached the bucket.
    assert.ok(session.apiPosts.length >= 1);
    assert.equal(tickets.length, session.apiPosts.length);
    for (const ticket of tickets) {
      assert.ok(ticket.url.startsWith(`${ENDPOINT}/${bucket}/`), `upload URL ${ticket.url}`);
      assert.deepEqual(await s3Admin('head', bucket, ticket.key), { missing: true }, `${ticket.key} must not exist`);
    }
    assert.deepEqual(await s3Admin('list', bucket), [], 'the bucket must stay empty');
    assert.equal((await readRow(page, name)).state, 'failed');
    session.check();
  } finally {
    await Promise.all([session.close(), server.stop()]);
  }
});

test('a 40 MiB image goes multipart to SeaweedFS on another origin: parts, a cut one sent again, complete', { timeout: 120_000 }, async t => {
  const MiB = 1024 * 1024;
  const { bucket, server, origin } = await bucketAndServer('multipart', { UPLOAD_MAX_BYTES: String(64 * MiB) });
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) }).catch(async err => {
    await server.stop();
    throw err;
  });
  const { page } = session;
  const buffer = makeBigPng(40 * MiB);  // 5 parts of 8 MiB
  const file = await tempFile('multipart.png', buffer);
  try {
    await s3Admin('put-cors', bucket, origin);
    const calls = [];
    page.on('request', request => {
      const url = new URL(request.url());
      if (url.origin === ENDPOINT && (url.searchParams.has('uploadId') || url.searchParams.has('uploads'))) {
        calls.push(`${request.method()} ${url.searchParams.get('partNumber') ?? ''}`.trim());
      }
    });
    let cut = 0;
    // Part 2's first PUT loses its connection: sent again, with a fresh URL.
    await page.route(`${ENDPOINT}/**`, route => {
      const url = new URL(route.request().url());
      return route.request().method() === 'PUT' && url.searchParams.get('partNumber') === '2' && ++cut === 1
        ? route.abort('connectionreset')
        : route.fallback();
    });
    await page.setInputFiles('#file-input', file.path);
    const shown = await waitForState(page, 'multipart.png', 'done', 90_000);
    assert.equal(cut, 2, 'part 2 was cut once, then sent again');
    assert.deepEqual(calls.filter(c => c.startsWith('PUT')).sort(), ['PUT 1', 'PUT 2', 'PUT 2', 'PUT 3', 'PUT 4', 'PUT 5']);
    assert.deepEqual(calls.filter(c => !c.startsWith('PUT')), ['POST', 'POST'], 'create, then complete');
    const listed = await s3Admin('list', bucket);
    assert.deepEqual(listed, [{ key: shown.key, size: buffer.length }]);
    assert.deepEqual(await s3Admin('head', bucket, shown.key), { size: buffer.length, contentType: 'image/png' });
    const response = await fetch(shown.viewUrl, { signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(buffer), 'SeaweedFS holds other bytes than the file');
    session.check();
  } finally {
    await Promise.all([session.close(), server.stop()]);
    await file.remove();
  }
});

test('cancelling a multipart upload to SeaweedFS aborts it there', { timeout: 120_000 }, async t => {
  const MiB = 1024 * 1024;
  const { bucket, server, origin } = await bucketAndServer('abort', { UPLOAD_MAX_BYTES: String(64 * MiB) });
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) }).catch(async err => {
    await server.stop();
    throw err;
  });
  const { page } = session;
  const file = await tempFile('abandoned.png', makeBigPng(24 * MiB));
  try {
    await s3Admin('put-cors', bucket, origin);
    const answers = [];
    page.on('response', response => {
      const url = new URL(response.url());
      if (url.origin === ENDPOINT) answers.push(`${response.request().method()} ${url.searchParams.get('partNumber') ?? ''} ${response.status()}`);
    });
    // Part 1 goes through; the others are held, so the upload is half done when cancelled.
    const holder = await holdParts(page, `${ENDPOINT}/**`, 1);
    await page.setInputFiles('#file-input', file.path);
    await row(page, 'abandoned.png').locator('.cancel').waitFor();
    const start = Date.now();
    while (!answers.includes('PUT 1 200')) {
      assert.ok(Date.now() - start < 30_000, `part 1 never stored: ${answers}`);
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    const unfinished = await s3Admin('list-uploads', bucket);
    assert.equal(unfinished.length, 1, `one unfinished upload before the cancel: ${JSON.stringify(unfinished)}`);
    await row(page, 'abandoned.png').locator('.cancel').click();
    await waitForState(page, 'abandoned.png', 'cancelled');
    while (!answers.some(a => a.startsWith('DELETE'))) {
      assert.ok(Date.now() - start < 30_000, `no abort answered: ${answers}`);
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    assert.ok(answers.includes('DELETE  204'), `the abort: ${answers}`);
    assert.deepEqual(await s3Admin('list-uploads', bucket), [], 'the upload is aborted');
    assert.deepEqual(await s3Admin('list', bucket), [], 'the bucket holds nothing');
    await holder.cut();
    session.check();
  } finally {
    await Promise.all([session.close(), server.stop()]);
    await file.remove();
  }
});

test('a multipart upload to SeaweedFS cut by a reload is resumed: ListParts there, only the missing parts sent', { timeout: 120_000 }, async t => {
  const MiB = 1024 * 1024;
  const { bucket, server, origin } = await bucketAndServer('resume', { UPLOAD_MAX_BYTES: String(64 * MiB) });
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) }).catch(async err => {
    await server.stop();
    throw err;
  });
  const { page } = session;
  page.on('dialog', dialog => dialog.accept());  // "leave the page?" while uploading
  const buffer = makeBigPng(32 * MiB);  // 4 parts of 8 MiB
  const file = await tempFile('resumed.png', buffer);
  try {
    await s3Admin('put-cors', bucket, origin);
    const puts = [];
    const stored = [];
    page.on('request', request => {
      const part = new URL(request.url()).searchParams.get('partNumber');
      if (request.method() === 'PUT' && part) puts.push(Number(part));
    });
    page.on('response', response => {
      const part = new URL(response.url()).searchParams.get('partNumber');
      if (part && response.status() === 200) stored.push(Number(part));
    });
    // Part 1 goes through; the others are held, then cut just before the reload.
    const holder = await holdParts(page, `${ENDPOINT}/**`, 1);
    await page.setInputFiles('#file-input', file.path);
    const start = Date.now();
    while (!stored.includes(1)) {
      assert.ok(Date.now() - start < 30_000, 'part 1 never stored');
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    await holder.cut();
    await page.reload();
    const sent = puts.length;
    await page.locator('.resumable-item', { hasText: 'resumed.png' }).waitFor();
    await page.setInputFiles('#file-input', file.path);
    const shown = await waitForState(page, 'resumed.png', 'done', 90_000);
    assert.deepEqual(puts.slice(sent).sort(), [2, 3, 4], 'part 1, listed by SeaweedFS, was not sent again');
    assert.deepEqual(await s3Admin('list', bucket), [{ key: shown.key, size: buffer.length }]);
    assert.deepEqual(await s3Admin('list-uploads', bucket), [], 'no unfinished upload left');
    const response = await fetch(shown.viewUrl, { signal: AbortSignal.timeout(20_000) });
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(buffer), 'SeaweedFS holds other bytes than the file');
    session.check();
  } finally {
    await Promise.all([session.close(), server.stop()]);
    await file.remove();
  }
});
