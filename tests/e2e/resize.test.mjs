// Oversized images fitted by the page when the server allows it
// (UPLOAD_RESIZE_MAX_PIXELS): a 12 MB camera JPEG stored sideways with EXIF
// orientation 6 is re-encoded under the limits, stored upright and without
// its metadata; an animated GIF over the limit is refused, never flattened.
// Fixtures are made and stored objects decoded by Pillow (fixtures.py).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  describeImage, launchBrowser, listFiles, loadedImageWidth, makeFixture, openPage, row, startLocalServer,
  waitForState,
} from './harness.mjs';

const MAX_BYTES = 10 * 1024 * 1024;  // the server's default UPLOAD_MAX_BYTES
const MAX_PIXELS = 4_000_000;

let browser;
let server;

before(async () => {
  [browser, server] = await Promise.all([
    launchBrowser(),
    startLocalServer({ UPLOAD_RESIZE_MAX_PIXELS: String(MAX_PIXELS), UPLOAD_RESIZE_QUALITY: '85' }),
  ]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

const isRed = ([r, g, b]) => r > 150 && g < 90 && b < 90;
const isBlue = ([r, g, b]) => b > 150 && r < 90 && g < 110;

test('a 12 MB JPEG with EXIF orientation 6 is resized under the limits and stored upright, metadata gone', async t => {
  const original = await makeFixture('rotated-jpeg', 12 * 1024 * 1024);
  const made = await describeImage(original);
  assert.ok(original.length > MAX_BYTES, `${original.length} bytes is over the limit`);
  assert.deepEqual([made.width, made.height], [4000, 3000], 'stored sideways');
  assert.ok(made.exifTags.includes(274) && made.exifTags.includes(34853), 'orientation and GPS in the original');

  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    // The PUT waits until the local preview (the original file) has been looked at.
    let release;
    const previewChecked = new Promise(resolve => { release = resolve; });
    await page.route('**/s3/**', async route => {
      if (route.request().method() === 'PUT') await previewChecked;
      await route.fallback();
    });
    await page.setInputFiles('#file-input', { name: 'camera.jpg', mimeType: 'image/jpeg', buffer: original });
    await waitForState(page, 'camera.jpg', 'uploading', 60_000);
    const preview = await row(page, 'camera.jpg').locator('img').evaluate(img => new Promise((resolve, reject) => {
      const size = () => resolve({ src: img.src, width: img.naturalWidth, height: img.naturalHeight });
      if (img.complete && img.naturalWidth) size();
      img.addEventListener('load', size, { once: true });
      img.addEventListener('error', () => reject(new Error('preview failed')), { once: true });
    }));
    release();
    assert.match(preview.src, /^blob:/, 'the local preview');
    assert.deepEqual([preview.width, preview.height], [3000, 4000], 'the preview is turned as EXIF says');
    const shown = await waitForState(page, 'camera.jpg', 'done', 60_000);
    const stored = await server.readObject(shown.key);
    assert.ok(stored.length <= MAX_BYTES, `${stored.length} bytes stored`);
    const request = Object.fromEntries(new URLSearchParams(session.apiPosts[0]));
    assert.deepEqual(request, { filename: 'camera.jpg', type: 'image/jpeg', size: String(stored.length) });

    const image = await describeImage(stored);
    t.diagnostic(`stored: ${JSON.stringify(image)}`);
    assert.equal(image.format, 'JPEG');
    assert.ok(image.width * image.height <= MAX_PIXELS, `${image.width}×${image.height} is within ${MAX_PIXELS} pixels`);
    assert.ok(image.width * image.height > MAX_PIXELS * 0.9, 'not shrunk more than needed');
    assert.ok(image.height > image.width, 'upright: portrait, as the camera meant it');
    assert.ok(isRed(image.top), `red on top: ${image.top}`);
    assert.ok(isBlue(image.bottom), `blue at the bottom: ${image.bottom}`);
    assert.deepEqual(image.exifTags, [], 'no EXIF left: no orientation, camera or GPS');

    const note = await row(page, 'camera.jpg').locator('.upload-note').textContent();
    assert.match(note, new RegExp(`^Resized from 3000×4000 to ${image.width}×${image.height} to fit this site’s limits;`));
    assert.match(note, /metadata, such as camera and location, was removed/);
    assert.match(await row(page, 'camera.jpg').locator('.size').textContent(), /^12\.\d MB → \d+(\.\d)? MB$/);
    // The preview is the stored, upright image.
    const width = await loadedImageWidth(page, 'camera.jpg', shown.viewUrl);
    assert.equal(width, image.width);
    session.check();
  } finally {
    await session.close();
  }
});

test('an animated GIF over the size limit is refused, not flattened', async t => {
  const gif = await makeFixture('animated-gif', MAX_BYTES + 1);
  assert.equal((await describeImage(gif)).frames, 2);
  const session = await openPage(browser, server.url, { log: m => t.diagnostic(m) });
  const { page } = session;
  try {
    const before = await listFiles(server.bucketDir);
    await page.setInputFiles('#file-input', { name: 'dance.gif', mimeType: 'image/gif', buffer: gif });
    const shown = await waitForState(page, 'dance.gif', 'failed');
    assert.match(shown.error, /^\d+(\.\d)? MB is over the 10 MB limit$/);
    assert.match(shown.hint, /GIFs are not resized here: that would flatten them to one frame/);
    assert.deepEqual(session.apiPosts, [], 'never sent');
    assert.deepEqual(await listFiles(server.bucketDir), before);
    session.check();
  } finally {
    await session.close();
  }
});
