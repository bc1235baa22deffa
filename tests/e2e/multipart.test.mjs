// Multipart uploads through the page (files over multipartThresholdBytes,
// 16 MiB by default, parts of 8 MiB): the local bucket implements S3's
// multipart calls, and the page drives them through presigned URLs only.
// A part whose connection drops is sent again by itself; a reload mid-upload
// is resumed by picking the file again and sends only the missing parts;
// pause stops sending and resume goes on; cancel aborts the upload, leaving
// nothing in the bucket; a 200 answer holding <Error> to complete is a failure.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  holdParts, launchBrowser, listFiles, makeBigPng, openPage, readRow, row, sleep, startLocalServer, tempFile, waitForState,
} from './harness.mjs';

const MiB = 1024 * 1024;
const RECORDS = 'presign.unfinished-uploads.v1';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([
    startLocalServer({ UPLOAD_MAX_BYTES: String(256 * MiB) }),
    launchBrowser(),
  ]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

/** The part number of a part PUT, or 0 for any other request. */
function partNumber(request) {
  const params = new URL(request.url()).searchParams;
  return request.method() === 'PUT' && params.has('uploadId') ? Number(params.get('partNumber')) : 0;
}

/** The storage calls other than part PUTs, by name, with their status once answered. */
function storageCall(request) {
  const url = new URL(request.url());
  if (!url.pathname.startsWith('/s3/')) return '';
  const { searchParams: q } = url;
  if (request.method() === 'POST' && q.has('uploads')) return 'create';
  if (request.method() === 'POST' && q.has('uploadId')) return 'complete';
  if (request.method() === 'GET' && q.has('uploadId')) return 'list';
  if (request.method() === 'DELETE' && q.has('uploadId')) return 'abort';
  return '';
}

/** Counts what the page sends: part PUTs (by number), part-signing requests and the other storage calls. */
function watch(page) {
  const seen = { puts: [], stored: [], signed: [], calls: [], answers: [] };
  page.on('request', request => {
    const n = partNumber(request);
    if (n) seen.puts.push(n);
    const call = storageCall(request);
    if (call) seen.calls.push(call);
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/multipart/parts') {
      seen.signed.push(...new URLSearchParams(request.postData()).get('parts').split(',').map(Number));
    }
  });
  page.on('response', async response => {
    const n = partNumber(response.request());
    if (n && response.status() === 200) seen.stored.push(n);
    const call = storageCall(response.request());
    if (call) seen.answers.push({ call, status: response.status(), body: call === 'list' ? await response.text().catch(() => '') : '' });
  });
  return seen;
}

const count = (list, value) => list.filter(v => v === value).length;
const range = n => Array.from({ length: n }, (_, i) => i + 1);

/** Resolves once `predicate()` holds, polling; fails after `timeout` ms with `what`. */
async function until(predicate, what, timeout = 30_000) {
  const end = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until the bucket holds exactly `expected` (files, temporary ones included). */
async function bucketBecomes(expected, what) {
  let left;
  await until(async () => (left = await listFiles(server.bucketDir)).join() === expected.join(), `${what}: ${JSON.stringify(left)}`, 10_000);
}

test('a 200 MiB image goes multipart; a part whose connection drops is sent again by itself', { timeout: 240_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  const buffer = makeBigPng(200 * MiB);
  const file = await tempFile('panorama.png', buffer);
  try {
    const seen = watch(page);
    let dropped = 0;
    await page.route('**/s3/**', route => (partNumber(route.request()) === 3 && ++dropped === 1
      ? route.abort('connectionreset')
      : route.fallback()));
    const before = await listFiles(server.bucketDir);
    await page.setInputFiles('#file-input', file.path);
    const shown = await waitForState(page, 'panorama.png', 'done', 200_000);

    assert.equal(dropped, 2, 'part 3 was cut once, then sent again');
    assert.deepEqual([...seen.puts].sort((a, b) => a - b), [...range(25), 3].sort((a, b) => a - b), '25 parts of 8 MiB, part 3 twice');
    assert.equal(count(seen.signed, 3), 2, 'the retried part got a freshly signed URL');
    assert.ok(seen.signed.length <= 26, `each part signed once, part 3 twice: ${seen.signed}`);
    assert.deepEqual(seen.calls, ['create', 'complete']);
    assert.equal(session.apiPosts.length, 0, 'no single-PUT URL for a big file');
    const stored = await server.readObject(shown.key);
    assert.equal(stored.length, buffer.length);
    assert.ok(stored.equals(buffer), 'the stored object differs from the file');
    // Only the object is left: no part files.
    await bucketBecomes([...before, shown.key].sort(), 'parts left behind');
    assert.equal(await page.evaluate(key => localStorage.getItem(key), RECORDS), null, 'a finished upload is not kept for resuming');
    assert.match(await page.locator('#overall').textContent(), /^1 of 1 uploaded/);
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('after a reload mid-upload, the file picked again sends only the parts not yet stored', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  page.on('dialog', dialog => dialog.accept());  // "leave the page?" while uploading
  const buffer = makeBigPng(44 * MiB);  // 6 parts: 5 of 8 MiB and one of 4 MiB
  const file = await tempFile('video-still.png', buffer);
  try {
    const seen = watch(page);
    const created = [];
    page.on('response', async response => {
      if (new URL(response.url()).pathname === '/api/multipart') created.push(await response.json());
    });
    // Parts 1 and 2 go through; the later ones are held, then cut just before the reload.
    const holder = await holdParts(page, '**/s3/**', 2);
    await page.setInputFiles('#file-input', file.path);
    await until(() => seen.stored.length === 2, 'parts 1 and 2 stored');
    assert.deepEqual([...seen.stored].sort(), [1, 2]);
    const kept = JSON.parse(await page.evaluate(key => localStorage.getItem(key), RECORDS));
    assert.equal(kept.length, 1, 'the unfinished upload is kept');
    assert.equal(kept[0].key, created[0].key);
    assert.equal(kept[0].name, 'video-still.png');
    assert.equal(kept[0].size, buffer.length);

    await holder.cut();
    await page.reload();
    const puts = seen.puts.length;
    const offer = page.locator('.resumable-item', { hasText: 'video-still.png' });
    await offer.waitFor();
    assert.match(await offer.textContent(), /44 MB/);

    await page.setInputFiles('#file-input', file.path);
    const shown = await waitForState(page, 'video-still.png', 'done', 90_000);
    assert.equal(shown.key, created[0].key, 'the same upload went on');
    assert.equal(created.length, 1, 'no second upload was created');
    const listing = seen.answers.find(a => a.call === 'list');
    assert.equal(listing?.status, 200);
    const listed = [...listing.body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(m => Number(m[1]));
    assert.deepEqual(listed, [1, 2], 'ListParts found the two parts stored before the reload');
    assert.deepEqual(seen.puts.slice(puts).sort(), [3, 4, 5, 6], 'only the missing parts were sent');
    assert.ok((await server.readObject(shown.key)).equals(buffer), 'the stored object differs from the file');
    assert.equal(await page.evaluate(key => localStorage.getItem(key), RECORDS), null);
    assert.ok(await page.locator('#resumable').isHidden(), 'nothing left to offer');
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('pause stops sending parts, resume finishes the upload', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page, context } = session;
  const buffer = makeBigPng(40 * MiB);  // 5 parts of 8 MiB
  const file = await tempFile('paused.png', buffer);
  try {
    const seen = watch(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * MiB,
    });
    await page.setInputFiles('#file-input', file.path);
    await waitForState(page, 'paused.png', 'uploading');
    await until(() => seen.stored.length >= 1, 'a part stored');
    await row(page, 'paused.png').locator('.pause').click();
    await waitForState(page, 'paused.png', 'paused');
    const sent = seen.puts.length;
    const progress = await row(page, 'paused.png').locator('progress').evaluate(p => p.value);
    assert.ok(progress >= 20 && progress < 100, `progress kept while paused: ${progress}%`);
    await sleep(1_500);
    assert.equal(seen.puts.length, sent, 'no part is sent while paused');
    assert.ok(await row(page, 'paused.png').locator('.resume').isVisible());
    await row(page, 'paused.png').locator('.resume').click();
    const shown = await waitForState(page, 'paused.png', 'done', 90_000);
    const stored = new Set(seen.stored);
    assert.deepEqual([...stored].sort(), range(5), 'every part stored');
    assert.ok((await server.readObject(shown.key)).equals(buffer), 'the stored object differs from the file');
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('cancel aborts the multipart upload: nothing is left in the bucket', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page, context } = session;
  const buffer = makeBigPng(40 * MiB);
  const file = await tempFile('cancelled.png', buffer);
  try {
    const seen = watch(page);
    const before = await listFiles(server.bucketDir);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * MiB,
    });
    await page.setInputFiles('#file-input', file.path);
    await until(() => seen.stored.length >= 1, 'a part stored');
    // Parts are on disk now (one stored, others arriving).
    assert.ok((await listFiles(server.bucketDir)).length > before.length, 'the bucket holds parts');
    await row(page, 'cancelled.png').locator('.cancel').click();
    await waitForState(page, 'cancelled.png', 'cancelled');
    await until(() => seen.answers.some(a => a.call === 'abort'), 'the abort answered');
    assert.equal(seen.answers.find(a => a.call === 'abort').status, 204);
    await bucketBecomes(before, 'the cancelled upload left files behind');
    assert.equal(await page.evaluate(key => localStorage.getItem(key), RECORDS), null, 'nothing kept to resume');
    assert.deepEqual(seen.calls.filter(c => c !== 'abort'), ['create'], 'never completed');
    assert.equal((await readRow(page, 'cancelled.png')).error, '');
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('a 200 answer to complete that holds an <Error> is not taken for success', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  const buffer = makeBigPng(20 * MiB);
  const file = await tempFile('quirk.png', buffer);
  try {
    const seen = watch(page);
    let completes = 0;
    // What S3 may send: 200, whitespace while it works, then the error.
    await page.route('**/s3/**', route => (storageCall(route.request()) === 'complete' && ++completes === 1
      ? route.fulfill({
        status: 200,
        contentType: 'application/xml',
        body: '<?xml version="1.0" encoding="UTF-8"?>\n   \n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>',
      })
      : route.fallback()));
    await page.setInputFiles('#file-input', file.path);
    await row(page, 'quirk.png').locator('.status', { hasText: /internal error.*retrying in \d+ s/i }).waitFor({ timeout: 60_000 });
    const shown = await waitForState(page, 'quirk.png', 'done', 60_000);
    assert.equal(completes, 2, 'complete was sent again');
    assert.deepEqual(seen.calls, ['create', 'complete', 'complete']);
    assert.ok((await server.readObject(shown.key)).equals(buffer));
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('an unfinished upload offered after a reload can be discarded: it is aborted, and nothing is left', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  page.on('dialog', dialog => dialog.accept());
  const buffer = makeBigPng(24 * MiB);  // 3 parts
  const file = await tempFile('forgotten.png', buffer);
  try {
    const seen = watch(page);
    const before = await listFiles(server.bucketDir);
    // Part 1 goes through; the others are held until the reload.
    const holder = await holdParts(page, '**/s3/**', 1);
    await page.setInputFiles('#file-input', file.path);
    await until(() => seen.stored.length === 1, 'part 1 stored');
    await holder.cut();
    await page.reload();
    const offer = page.locator('.resumable-item', { hasText: 'forgotten.png' });
    await offer.locator('.resumable-discard').click();
    await offer.waitFor({ state: 'detached' });
    assert.ok(await page.locator('#resumable').isHidden());
    assert.equal(seen.answers.find(a => a.call === 'abort')?.status, 204);
    await bucketBecomes(before, 'the discarded upload left files behind');
    assert.equal(await page.evaluate(key => localStorage.getItem(key), RECORDS), null);
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('offline mid-upload: the parts wait for the network and the upload finishes by itself', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page, context } = session;
  const buffer = makeBigPng(64 * MiB);  // 8 parts: 4 still to send when the first are stored
  const file = await tempFile('tunnel.png', buffer);
  try {
    const seen = watch(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const network = offline => cdp.send('Network.emulateNetworkConditions', {
      offline, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * MiB,
    });
    await network(false);
    await page.setInputFiles('#file-input', file.path);
    await until(() => seen.stored.length >= 1, 'a part stored');
    await network(true);
    const status = row(page, 'tunnel.png').locator('.status', { hasText: 'Offline: the upload goes on when the connection is back' });
    await status.waitFor({ timeout: 20_000 });
    await sleep(3_000);  // longer offline than the first retries would wait
    assert.equal((await readRow(page, 'tunnel.png')).state, 'uploading', 'still going, not failed');
    await network(false);
    const shown = await waitForState(page, 'tunnel.png', 'done', 90_000);
    assert.deepEqual([...new Set(seen.stored)].sort(), range(8));
    assert.ok((await server.readObject(shown.key)).equals(buffer), 'the stored object differs from the file');
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});

test('a complete whose answer is lost is not taken for a failure: the object is there, of the file\'s size', { timeout: 120_000 }, async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  const buffer = makeBigPng(20 * MiB);
  const file = await tempFile('lost-answer.png', buffer);
  try {
    const seen = watch(page);
    let completes = 0;
    // The first complete reaches the bucket and completes the upload; its answer never reaches the page.
    await page.route('**/s3/**', async route => {
      if (storageCall(route.request()) !== 'complete' || ++completes > 1) return route.fallback();
      const answer = await route.fetch();
      assert.equal(answer.status(), 200);
      return route.abort('connectionreset');
    });
    await page.setInputFiles('#file-input', file.path);
    const shown = await waitForState(page, 'lost-answer.png', 'done', 60_000);
    assert.equal(completes, 2, 'complete was sent again');
    const again = seen.answers.filter(a => a.call === 'complete').map(a => a.status);
    t.diagnostic(`second complete answered ${again}`);
    assert.ok(again.length === 1 && [404, 412].includes(again[0]), `the repeat was refused (NoSuchUpload or PreconditionFailed): ${again}`);
    assert.ok((await server.readObject(shown.key)).equals(buffer), 'the stored object differs from the file');
    session.check();
  } finally {
    await session.close();
    await file.remove();
  }
});
