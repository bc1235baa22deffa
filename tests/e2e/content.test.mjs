// Files typed by their contents, not their names: a HEIC photo from a phone
// (no type on Linux) is explained by default and uploaded when the server
// allows HEIC; a PNG named .jpg goes up as a PNG; an HTML page named .png is
// refused by the page, and by the local bucket if a client sends it anyway.
// Fixtures are made here: the HEIC by libheif's heif-enc.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  launchBrowser, listFiles, makeHeic, makePng, openPage, readRow, startLocalServer, waitForState,
} from './harness.mjs';

const HTML = Buffer.from('<!DOCTYPE html>\n<html><body><script>alert(document.domain)</script></body></html>\n');

let browser;
let server;       // default policy: no HEIC
let heicServer;   // UPLOAD_ALLOWED_TYPES lists HEIC and HEIF
let heic;

before(async () => {
  [browser, server, heicServer, heic] = await Promise.all([
    launchBrowser(),
    startLocalServer(),
    startLocalServer({ UPLOAD_ALLOWED_TYPES: 'image/jpeg,image/png,image/heic,image/heif' }),
    makeHeic(makePng(64, 48, { seed: 2 })),
  ]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop(), heicServer?.stop()]);
});

const posted = session => session.apiPosts.map(body => Object.fromEntries(new URLSearchParams(body)));

test('a HEIC photo is refused by default, saying what it is and how to export a JPEG', async t => {
  assert.equal(heic.subarray(4, 12).toString('latin1'), 'ftypheic', 'heif-enc made a HEIC');
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    // What Chromium on Linux reports for .HEIC: no type at all.
    await page.setInputFiles('#file-input', { name: 'IMG_0001.HEIC', mimeType: '', buffer: heic });
    const shown = await waitForState(page, 'IMG_0001.HEIC', 'failed');
    assert.equal(shown.error, 'HEIC photos cannot be uploaded here');
    assert.match(shown.hint, /HEIC photo, the format iPhones save/);
    assert.match(shown.hint, /Export it as JPEG/);
    assert.match(shown.hint, /Most Compatible/);
    assert.deepEqual(session.apiPosts, [], 'never sent');
    session.check();
  } finally {
    await session.close();
  }
});

test('a HEIC photo is uploaded as image/heic when the server allows it', async t => {
  const session = await openPage(browser, heicServer.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    await page.setInputFiles('#file-input', { name: 'IMG_0001.HEIC', mimeType: '', buffer: heic });
    const shown = await waitForState(page, 'IMG_0001.HEIC', 'done');
    assert.match(shown.key, /\.heic$/);
    assert.deepEqual(posted(session), [{ filename: 'IMG_0001.HEIC', type: 'image/heic', size: String(heic.length) }]);
    assert.ok((await heicServer.readObject(shown.key)).equals(heic), 'stored byte for byte');
    session.check();
  } finally {
    await session.close();
  }
});

test('a PNG named .jpg is uploaded as a PNG', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const png = makePng(120, 90, { seed: 4 });
    await page.setInputFiles('#file-input', { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: png });
    const shown = await waitForState(page, 'holiday.jpg', 'done');
    assert.match(shown.key, /\.png$/, 'the key takes the sniffed type');
    assert.deepEqual(posted(session), [{ filename: 'holiday.jpg', type: 'image/png', size: String(png.length) }]);
    assert.ok((await server.readObject(shown.key)).equals(png));
    const note = await page.locator('li.upload .upload-note').textContent();
    assert.equal(note, 'Uploaded as a PNG image: that is what its contents are, whatever its name says.');
    session.check();
  } finally {
    await session.close();
  }
});

test('an HTML page named .png is refused by the page and by the local bucket', async t => {
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const before = await listFiles(server.bucketDir);
    await page.setInputFiles('#file-input', { name: 'cat.png', mimeType: 'image/png', buffer: HTML });
    const shown = await waitForState(page, 'cat.png', 'failed');
    assert.equal(shown.error, 'This file is an HTML page, not a PNG image');
    assert.deepEqual(session.apiPosts, [], 'the page never asked for a link');

    // A client that skips the page's check: the API signs image/png, the bucket reads the bytes.
    const answer = await page.evaluate(async html => {
      const res = await fetch('/api/uploads', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ filename: 'cat.png', type: 'image/png', size: String(html.length) }),
      });
      const ticket = await res.json();
      const put = await fetch(ticket.url, { method: 'PUT', headers: ticket.headers, body: html });
      return { status: put.status, body: await put.text(), key: ticket.key };
    }, HTML.toString('latin1'));
    assert.equal(answer.status, 400, answer.body);
    assert.match(answer.body, /<Code>ContentTypeMismatch<\/Code>/);
    assert.match(answer.body, /first bytes are text\/html, not image\/png as signed/);
    assert.deepEqual(await listFiles(server.bucketDir), before, 'nothing stored, no temporary file');
    assert.equal((await readRow(page, 'cat.png')).key, '');
    session.check();
  } finally {
    await session.close();
  }
});
