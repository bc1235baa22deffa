// A plain HTML form from `presign post --html`, submitted by Chromium with
// JavaScript off: the browser's own multipart encoding reaches the local
// bucket, which stores the file and answers S3's 201 document; a file over
// the form's content-length-range gets S3's EntityTooLarge and leaves nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { REPO, launchBrowser, listFiles, makePng, startLocalServer } from './harness.mjs';

const BIN = process.env.PRESIGN_BIN || join(REPO, 'target', 'release', 'presign');
const KEY_ID = 'E2EPOSTKEY';
const SECRET = 'e2e-post-secret';

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([
    startLocalServer({ LOCAL_BUCKET_ACCESS_KEY_ID: KEY_ID, LOCAL_BUCKET_SECRET_ACCESS_KEY: SECRET }),
    launchBrowser(),
  ]);
});

after(async () => {
  await Promise.all([browser?.close(), server?.stop()]);
});

/** The HTML form `presign post --html` prints for this server's local bucket. */
function signedForm(maxBytes) {
  return execFileSync(BIN, [
    'post', '--bucket', 'local', '--key-prefix', 'forms/', '--content-type-prefix', 'image/',
    '--min-bytes', '1', '--max-bytes', String(maxBytes), '--field', 'success_action_status=201',
    '--endpoint', `${server.url}s3`, '--path-style', '--expires', '300', '--html',
  ], { env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET }, encoding: 'utf8' });
}

/** Submits `form` with `file` chosen, JavaScript off; resolves to the answer. */
async function submit(form, file) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.setContent(`<!doctype html><title>form</title>${form}`);
    await page.setInputFiles('input[name=file]', file);
    const [response] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    return { status: response.status(), body: await response.text() };
  } finally {
    await context.close();
  }
}

test('a form printed by presign post --html uploads with no JavaScript', async () => {
  const png = makePng(32, 32, { noise: true });
  const answer = await submit(signedForm(png.length), { name: 'photo one.png', mimeType: 'image/png', buffer: png });
  assert.equal(answer.status, 201, answer.body);
  assert.match(answer.body, /<Key>forms\/photo one\.png<\/Key>/);
  assert.deepEqual(await server.readObject('forms/photo one.png'), png);
});

test('a file over the form\'s size range is refused with EntityTooLarge and not kept', async () => {
  const png = makePng(32, 32, { noise: true, seed: 2 });
  const answer = await submit(signedForm(png.length - 1), { name: 'big.png', mimeType: 'image/png', buffer: png });
  assert.equal(answer.status, 400, answer.body);
  assert.match(answer.body, /<Code>EntityTooLarge<\/Code>/);
  // Nothing but the first test's upload: no object, no temporary file.
  const files = await listFiles(server.bucketDir);
  assert.deepEqual(files.filter(f => f !== join('forms', 'photo one.png')), []);
});
