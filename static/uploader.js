// <presign-uploader>: the upload element, an ES module with no dependencies
// and no build step. The server's own page uses it, and so can any other
// site (see README, "Embedding the uploader"):
//
//   <script type="module" src="https://uploads.example.com/uploader-v1.js"></script>
//   <presign-uploader endpoint="https://uploads.example.com"></presign-uploader>
//
// Attributes: `endpoint`, the presign server (default: this page's origin);
// `page-wide`, for the page's main uploader: files dropped or pasted anywhere
// on the page are taken, the tab title shows the progress and leaving the page
// mid-upload asks first. Events: `upload-complete` (detail: key, size, name)
// and `upload-error` (detail: name, message). Styling: the --presign-*
// custom properties (uploader.css).
//
// It runs under a CSP without 'unsafe-inline': the markup below goes into an
// open shadow root, styles come from uploader.css next to this module, and
// every element is cloned from the row <template> and styled by classes only.

import { prepareFile } from './prepare.js';

const CONCURRENCY = 3;  // uploads in flight at once
const MAX_RETRIES = 3;  // automatic retries of a transient failure (network, 5xx, 429)
const CORS_DOC = 'https://github.com/presign/presign/blob/main/README.md#cors-for-a-real-bucket';

// Every explanation shown under a failed upload, in one place.
const HINTS = {
  SignatureDoesNotMatch: 'The upload did not match what was signed: its headers, type or size changed on the way, or the server’s clock or credentials are wrong.',
  Expired: 'The upload link expired before the upload started. Retry asks for a fresh link.',
  AccessDenied: 'The storage refused this upload. The server’s credentials may not allow writing to the bucket.',
  InvalidAccessKeyId: 'The storage does not know the server’s access key: its credentials are wrong or were rotated.',
  RequestTimeTooSkewed: 'The server’s clock is too far from the storage’s clock. Its administrator should sync the clock (NTP).',
  EntityTooLarge: 'The file is larger than the storage accepts. Make it smaller and try again.',
  PreconditionFailed: 'An object with this key already exists, so it was not overwritten. Retry gets a new key.',
  SlowDown: 'The storage is busy. Try again in a moment.',
  cors: 'The browser could not reach the storage on another site. That usually means the bucket’s CORS rules do not allow this page: see ',
  network: 'The connection was lost. Check your network, then retry.',
  server: 'The upload server could not be reached. Check your network, then retry.',
  401: 'You need to sign in before uploading.',
  403: 'You are not allowed to upload here.',
  429: 'Too many uploads in a short time. Wait a minute, then retry.',
  type: 'Allowed: {types}.',
  size: 'Make the image smaller or compress it, then choose it again.',
  config: 'Reload the page to try again.',
};

// A hint by its id in HINTS, or with its own `text` when it says more (the allowed
// types). The id, not the text, tells which hint it is (the CORS one gets a link).
function hint(id, text = HINTS[id] || '') {
  return { hintId: text ? String(id) : '', hint: text };
}

const STYLESHEET = new URL('uploader.css', import.meta.url).href;

// The element's markup; ids are unique within its shadow root only.
const MARKUP = `
<link rel="stylesheet" href="${STYLESHEET}">
<div class="uploader">
  <div id="page-error" class="page-error" role="alert" hidden></div>

  <button id="drop-zone" class="drop-zone" type="button" aria-describedby="limits">
    <svg class="drop-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 16V4m0 0-4.5 4.5M12 4l4.5 4.5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3"/></svg>
    <span class="drop-title"><span class="pointer-fine">Drop images here, or </span><span class="browse">choose files</span></span>
    <span id="limits" class="drop-limits">Checking what can be uploaded…</span>
  </button>
  <input id="file-input" class="visually-hidden" type="file" multiple accept="image/*" tabindex="-1" aria-label="Choose images to upload">

  <section id="queue" class="queue" aria-labelledby="queue-title" hidden>
    <div class="queue-head">
      <h2 id="queue-title">Uploads</h2>
      <button id="clear" class="quiet" type="button">Clear finished</button>
    </div>
    <p id="overall" class="overall"></p>
    <progress id="overall-progress" max="100" value="0" aria-labelledby="overall"></progress>
    <ul id="uploads" class="uploads"></ul>
  </section>

  <div id="live-region" class="visually-hidden" aria-live="polite" aria-atomic="true"></div>
</div>

<template id="row-template">
  <li class="upload" data-state="waiting">
    <a class="thumb" target="_blank" rel="noopener"><img alt="" decoding="async"></a>
    <div class="info">
      <p class="title"><span class="name"></span> <span class="badge"></span></p>
      <p class="meta"><span class="size"></span><span class="status"></span></p>
      <div class="meter"><progress max="100" value="0"></progress><span class="pct">0%</span></div>
      <p class="upload-error" hidden></p>
      <p class="upload-note" hidden></p>
      <p class="upload-hint" hidden></p>
      <p class="result" hidden><code class="upload-key"></code><button class="copy-key quiet" type="button">Copy key</button></p>
    </div>
    <div class="actions">
      <button class="cancel quiet" type="button">Cancel</button>
      <button class="retry" type="button">Retry</button>
      <button class="remove quiet icon" type="button">✕</button>
    </div>
  </li>
</template>`;

/**
 * Builds the uploader in `host`'s shadow root; returns what connecting and
 * disconnecting need. Its body is one closure per element, left unindented so
 * it reads (and diffs) like the plain page script it grew from.
 */
function mount(host) {
const root = host.attachShadow({ mode: 'open' });
root.innerHTML = MARKUP;
const $ = (selector, within = root) => within.querySelector(selector);
const shell = $('.uploader');
const dropZone = $('#drop-zone');
const input = $('#file-input');
const queue = $('#queue');
const list = $('#uploads');
const overall = $('#overall');
const overallBar = $('#overall-progress');
const live = $('#live-region');
const template = $('#row-template');
// The presign server; resolved once, so every request goes to the same place.
const endpoint = new URL(host.getAttribute('endpoint') || location.origin, location.href);
const api = path => new URL(path, endpoint).href;
const pageTitle = document.title;

const items = [];
let configPromise = null;

// Fetched once; a failure is not cached so the next file added tries again.
function loadConfig() {
  configPromise ??= fetch(api('/api/config'), { headers: { accept: 'application/json' } })
    .then(res => (res.ok ? res.json() : Promise.reject(new Error(`HTTP ${res.status}`))))
    .catch(err => { configPromise = null; throw err; });
  return configPromise;
}

function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  const [value, unit] = n < 1024 ** 2 ? [n / 1024, 'KB'] : [n / 1024 ** 2, 'MB'];
  return `${+value.toFixed(1)} ${unit}`;
}

// "image/svg+xml" -> "SVG": people know file kinds, not MIME types.
function typeName(type) {
  if (!type.startsWith('image/')) return type;
  const sub = type.slice(6).replace(/\+xml$/, '').replace(/^x-/, '');
  return sub === 'webp' ? 'WebP' : sub.toUpperCase();
}

function refusal(file, cfg) {
  const type = file.type.toLowerCase();
  if (!cfg.allowedTypes.includes(type)) {
    const types = cfg.allowedTypes.map(typeName).join(', ');
    const what = type ? `${typeName(type)} files are` : 'Files of unknown type are';
    return { message: `${what} not allowed`, ...hint('type', HINTS.type.replace('{types}', types)) };
  }
  if (file.size > cfg.maxBytes) {
    let size = formatBytes(file.size);
    const limit = formatBytes(cfg.maxBytes);
    if (size === limit) size = `${file.size.toLocaleString('en')} bytes`;  // "10 MB is over the 10 MB limit" would be nonsense
    return { message: `${size} is over the ${limit} limit`, ...hint('size') };
  }
  return null;
}

function announce(text) {
  live.textContent = text;
}

function failure(message, hintId, extra = {}) {
  return Object.assign(new Error(message), hint(hintId), extra);
}

// ---- adding files ----------------------------------------------------------

async function addFiles(fileList) {
  const files = [...fileList];  // copy now: the input is cleared right after
  if (!files.length) return;
  let cfg = null;
  let cfgError = null;
  try {
    cfg = await loadConfig();
  } catch (err) {
    cfgError = { message: `Upload settings could not be loaded (${err.message})`, ...hint('config') };
  }
  // Rows appear at once, in order; each starts once prepared (prepare.js).
  await Promise.all(files.map(async file => {
    const item = createItem(file);
    let refused = cfgError;
    if (cfg) {
      setState(item, 'preparing', { status: 'Reading the file…' });
      const ready = await prepareFile(file, cfg).catch(err => ({
        file, refusal: { message: `This file could not be read (${err.message})`, ...hint('network') },
      }));
      item.file = ready.file;  // also for a Retry after Cancel
      showNote(item, ready);
      refused = ready.refusal || refusal(item.file, cfg);
      if (!refused && item.state === 'preparing') setState(item, 'waiting');
    }
    if (refused) {
      setState(item, 'refused', refused);
      announce(`${file.name} not sent: ${refused.message}`);
      emit('upload-error', { name: file.name, message: refused.message });
    }
    pump();
  }));
}

// What preparing did to the file (typed by its contents, resized), under its name.
function showNote(item, { note, resized }) {
  const el = $('.upload-note', item.row);
  el.textContent = note || '';
  el.hidden = !note;
  if (resized) {
    $('.size', item.row).textContent = `${formatBytes(resized.from)} → ${formatBytes(resized.to)}`;
    announce(`${item.file.name} resized from ${formatBytes(resized.from)} to ${formatBytes(resized.to)}`);
  }
}

function createItem(file) {
  const row = template.content.firstElementChild.cloneNode(true);
  const item = { file, row, state: 'waiting', loaded: 0, attempt: 0, run: null, timer: 0, milestone: 0 };
  item.preview = file.type.startsWith('image/') ? URL.createObjectURL(file) : '';
  const img = $('img', row);
  img.addEventListener('error', () => row.classList.add('no-preview'));
  if (item.preview) img.src = item.preview; else row.classList.add('no-preview');
  $('.name', row).textContent = file.name;
  $('.name', row).title = file.name;
  $('.size', row).textContent = formatBytes(file.size);
  $('progress', row).setAttribute('aria-label', `Upload progress of ${file.name}`);
  $('.cancel', row).setAttribute('aria-label', `Cancel ${file.name}`);
  $('.retry', row).setAttribute('aria-label', `Retry ${file.name}`);
  $('.remove', row).setAttribute('aria-label', `Remove ${file.name} from the list`);
  $('.cancel', row).addEventListener('click', () => cancel(item));
  $('.retry', row).addEventListener('click', () => retry(item));
  $('.remove', row).addEventListener('click', () => remove(item));
  $('.copy-key', row).addEventListener('click', () => copyKey(item));
  items.push(item);
  list.append(row);
  setState(item, 'waiting');
  return item;
}

// ---- state and rendering ---------------------------------------------------

// What each state shows and allows. `active`: in the queue or on its way; `retry`: a
// retry may help; `counted`: part of the overall progress. A refused file was never
// sent (its type or size is not allowed): it looks failed, but retrying cannot help.
const STATES = {
  preparing: { badge: 'Preparing', active: true, counted: true },
  waiting: { badge: 'Waiting', active: true, counted: true },
  uploading: { badge: 'Uploading', active: true, counted: true },
  done: { badge: 'Uploaded', counted: true },
  failed: { badge: 'Failed', retry: true, counted: true },
  cancelled: { badge: 'Cancelled', retry: true },
  refused: { badge: 'Not sent', looks: 'failed' },
};

function setState(item, state, { message = '', hint = '', hintId = '', status = '' } = {}) {
  const { row } = item;
  const focused = root.activeElement;
  const shown = STATES[state];
  item.state = state;
  row.dataset.state = shown.looks || state;
  $('.badge', row).textContent = shown.badge;
  $('.status', row).textContent = status;
  const error = $('.upload-error', row);
  error.textContent = message;
  error.hidden = !message;
  showHint(row, hint, hintId);
  $('.cancel', row).hidden = !shown.active;
  $('.retry', row).hidden = !shown.retry;
  $('.remove', row).hidden = !!shown.active;
  $('.meter', row).hidden = state !== 'uploading';
  if (state !== 'uploading') setProgress(item, state === 'done' ? item.file.size : 0);
  // The button that was pressed may just have been hidden; keep keyboard users in the row.
  if (row.contains(focused) && focused.closest('[hidden]')) $('.actions button:not([hidden])', row)?.focus();
  renderOverall();
}

function showHint(row, hint, hintId) {
  const el = $('.upload-hint', row);
  el.textContent = hint;
  if (hintId === 'cors') {
    const link = document.createElement('a');
    link.href = CORS_DOC;
    link.target = '_blank';
    link.rel = 'noopener';
    link.textContent = 'README → CORS for a real bucket';
    el.append(link, '.');
  }
  el.hidden = !hint;
}

function setProgress(item, loaded) {
  item.loaded = loaded;
  const pct = item.file.size ? Math.floor((loaded / item.file.size) * 100) : 100;
  $('progress', item.row).value = pct;
  $('.pct', item.row).textContent = `${pct}%`;
  return pct;
}

function renderOverall() {
  const counted = items.filter(i => STATES[i.state].counted);
  const total = counted.reduce((sum, i) => sum + i.file.size, 0);
  const loaded = counted.reduce((sum, i) => sum + (i.state === 'done' ? i.file.size : i.loaded), 0);
  const done = counted.filter(i => i.state === 'done').length;
  const failed = counted.filter(i => i.state === 'failed').length;
  const busy = counted.length - done - failed;
  const pct = total ? Math.floor((loaded / total) * 100) : 0;
  overallBar.value = pct;
  overallBar.hidden = !counted.length;
  overallBar.classList.toggle('complete', !busy && done > 0 && !failed);
  let text = counted.length ? `${done} of ${counted.length} uploaded` : 'Nothing to upload';
  if (busy) text += ` · ${formatBytes(loaded)} of ${formatBytes(total)} (${pct}%)`;
  if (failed) text += ` · ${failed} failed`;
  overall.textContent = text;
  if (host.hasAttribute('page-wide')) document.title = busy ? `${pct}% · ${pageTitle}` : pageTitle;
  $('#clear').hidden = !items.some(i => !STATES[i.state].active);
  queue.hidden = !items.length;
}

// ---- the upload itself -----------------------------------------------------

function pump() {
  let active = items.filter(i => i.state === 'uploading').length;
  for (const item of items) {
    if (active >= CONCURRENCY) break;
    if (item.state === 'waiting' && !item.timer) {
      active++;
      start(item);
    }
  }
  renderOverall();
}

// Each run gets a token; cancel() drops it, so late callbacks of an aborted run are ignored.
async function start(item) {
  const run = (item.run = {});
  item.milestone = 0;
  setState(item, 'uploading', { status: 'Getting an upload link…' });
  try {
    const ticket = await requestTicket(item, run);
    if (item.run !== run) return;
    $('.status', item.row).textContent = '';
    announce(`${item.file.name}: uploading`);
    await put(item, ticket, run);
    if (item.run === run) finish(item, ticket);
  } catch (err) {
    if (item.run === run) fail(item, err);
  } finally {
    if (item.run === run) item.run = null;
    pump();
  }
}

async function requestTicket(item, run) {
  run.controller = new AbortController();
  const { name, type, size } = item.file;
  let res;
  try {
    res = await fetch(api('/api/uploads'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ filename: name, type, size: String(size) }),
      signal: run.controller.signal,
    });
  } catch {
    throw failure('Could not reach the upload server', 'server', { transient: true });
  }
  if (res.ok) return res.json();
  const body = await res.json().catch(() => ({}));
  const message = body.message || `The upload server answered ${res.status} ${res.statusText}`.trim();
  throw failure(message, res.status, {
    transient: res.status === 429 || res.status >= 500,
    retryAfter: Number(res.headers.get('retry-after')) || 0,
  });
}

// fetch() cannot report upload progress, so the bytes go with XMLHttpRequest.
function put(item, ticket, run) {
  return new Promise((resolve, reject) => {
    const xhr = (run.xhr = new XMLHttpRequest());
    xhr.open(ticket.method || 'PUT', ticket.url);
    // Exactly the signed headers; the browser adds Content-Length itself.
    for (const [name, value] of Object.entries(ticket.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', e => {
      if (item.run !== run) return;
      const pct = setProgress(item, Math.min(e.loaded, item.file.size));
      $('.status', item.row).textContent = pct === 100 ? 'Finishing…' : '';
      if (pct >= item.milestone + 25 && pct < 100) {
        item.milestone = pct - (pct % 25);
        announce(`${item.file.name}: uploading ${pct}%`);
      }
      renderOverall();
    });
    xhr.addEventListener('load', () => (xhr.status < 300 ? resolve() : reject(storageError(xhr))));
    xhr.addEventListener('error', () => reject(networkError(ticket.url)));
    xhr.addEventListener('abort', () => reject(failure('Cancelled')));
    xhr.send(item.file);
  });
}

// S3 answers errors as <Error><Code/><Message/></Error>; turn the code into advice.
function storageError(xhr) {
  const doc = new DOMParser().parseFromString(xhr.responseText || '<x/>', 'application/xml');
  const code = doc.querySelector('Error > Code')?.textContent.trim() || '';
  const detail = doc.querySelector('Error > Message')?.textContent.trim() || '';
  // AccessDenied covers several causes; its message tells them apart.
  const cause = code !== 'AccessDenied' ? code
    : /expired/i.test(detail) ? 'Expired'
    : /not (yet )?valid/i.test(detail) ? 'RequestTimeTooSkewed' : code;
  const message = code ? `${detail || code} (${code})` : `The storage answered ${xhr.status} ${xhr.statusText}`.trim();
  return failure(message, cause, {
    transient: xhr.status >= 500,
    retryAfter: Number(xhr.getResponseHeader('retry-after')) || 0,
  });
}

// Status 0 tells nothing; to another origin it is most often a CORS refusal.
function networkError(url) {
  const crossOrigin = new URL(url, location.href).origin !== location.origin;
  return failure('The upload was interrupted', crossOrigin ? 'cors' : 'network', { transient: true });
}

function fail(item, err) {
  if (err.transient && item.attempt < MAX_RETRIES) {
    item.attempt++;
    // Exponential backoff with jitter, unless the server said how long to wait.
    const delay = err.retryAfter ? err.retryAfter * 1000 : 1000 * 2 ** (item.attempt - 1) * (0.75 + Math.random() / 2);
    const seconds = Math.max(1, Math.round(delay / 1000));
    // A likely CORS refusal is named at once: retries will not fix a bucket rule.
    const shown = err.hintId === 'cors' ? hint('cors') : {};
    setState(item, 'waiting', { ...shown, status: `${err.message}; retrying in ${seconds} s (${item.attempt} of ${MAX_RETRIES})` });
    item.timer = setTimeout(() => { item.timer = 0; pump(); }, delay);
    return;
  }
  setState(item, 'failed', err);
  announce(`${item.file.name} failed: ${err.message}`);
  emit('upload-error', { name: item.file.name, message: err.message });
}

function finish(item, ticket) {
  const { row } = item;
  item.key = ticket.key;
  $('.upload-key', row).textContent = ticket.key;
  $('.result', row).hidden = false;
  if (ticket.viewUrl) {
    const img = $('img', row);
    // Show what the storage now holds; the local preview is no longer needed.
    img.addEventListener('load', () => revokePreview(item), { once: true });
    img.src = ticket.viewUrl;
    const thumb = $('.thumb', row);
    thumb.href = ticket.viewUrl;
    thumb.setAttribute('aria-label', `Open ${item.file.name} as stored`);
  }
  setState(item, 'done');
  announce(`${item.file.name} uploaded`);
  emit('upload-complete', { key: ticket.key, size: item.file.size, name: item.file.name });
}

// Events leave the shadow root (composed) so the host page hears them on the element.
function emit(type, detail) {
  host.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}

function cancel(item) {
  const run = item.run;
  item.run = null;
  clearTimeout(item.timer);
  item.timer = 0;
  run?.controller?.abort();
  run?.xhr?.abort();
  setState(item, 'cancelled');
  announce(`${item.file.name} cancelled`);
  pump();
}

function retry(item) {
  item.attempt = 0;  // a retry by hand gets a fresh link and a fresh retry budget
  setState(item, 'waiting');
  pump();
}

function revokePreview(item) {
  if (item.preview) URL.revokeObjectURL(item.preview);
  item.preview = '';
}

function remove(item) {
  const index = items.indexOf(item);
  const next = items[index + 1] || items[index - 1];
  items.splice(index, 1);
  item.row.remove();
  revokePreview(item);
  renderOverall();
  ((next && $('.actions button:not([hidden])', next.row)) || dropZone).focus();
}

async function copyKey(item) {
  const button = $('.copy-key', item.row);
  try {
    await navigator.clipboard.writeText(item.key);
    button.textContent = 'Copied';
    announce('Key copied');
  } catch {
    // No clipboard access (old browser or permission refused): select the key for a manual copy.
    getSelection().selectAllChildren($('.upload-key', item.row));
    button.textContent = 'Press Ctrl+C';
    announce('Key selected; press Control C to copy it');
  }
  setTimeout(() => { button.textContent = 'Copy key'; }, 2000);
}

// ---- ways in: picker, drop, paste -----------------------------------------

dropZone.addEventListener('click', () => input.click());
input.addEventListener('change', () => {
  addFiles(input.files);
  input.value = '';  // choosing the same file again must fire 'change' again
});

// Drops and pastes are taken on the whole page for the page's main uploader,
// on the element alone otherwise; `listen` attaches them on connect.
const carriesFiles = e => e.dataTransfer?.types.includes('Files');
let dragDepth = 0;  // dragenter/dragleave fire for every child element crossed
function listen(signal) {
  const target = host.hasAttribute('page-wide') ? document : host;
  const on = (type, handler) => target.addEventListener(type, handler, { signal });
  on('dragenter', e => {
    if (carriesFiles(e) && ++dragDepth === 1) shell.classList.add('dragging');
  });
  on('dragleave', e => {
    if (carriesFiles(e) && --dragDepth <= 0) {
      dragDepth = 0;
      shell.classList.remove('dragging');
    }
  });
  on('dragover', e => {
    if (!carriesFiles(e)) return;
    e.preventDefault();  // allows the drop
    e.dataTransfer.dropEffect = 'copy';
  });
  on('drop', e => {
    if (!carriesFiles(e)) return;
    e.preventDefault();  // otherwise the browser navigates to the file
    dragDepth = 0;
    shell.classList.remove('dragging');
    addFiles(e.dataTransfer.files);
  });
  on('paste', e => {
    const files = e.clipboardData?.files;
    if (files?.length) {
      e.preventDefault();
      addFiles(files);
    }
  });
  if (host.hasAttribute('page-wide')) {
    window.addEventListener('beforeunload', e => {
      if (items.some(i => STATES[i.state].active)) e.preventDefault();
    }, { signal });
  }
}
$('#clear').addEventListener('click', () => {
  for (const item of [...items]) if (!STATES[item.state].active) remove(item);
});

loadConfig().then(cfg => {
  const types = cfg.allowedTypes.map(typeName);
  const last = types.pop();
  $('#limits').textContent = `${types.length ? `${types.join(', ')} or ${last}` : last} · up to ${formatBytes(cfg.maxBytes)} each`;
  input.accept = cfg.allowedTypes.join(',');
}, err => {
  $('#limits').textContent = '';
  const banner = $('#page-error');
  banner.textContent = `Upload settings could not be loaded (${err.message}). Reload the page to try again.`;
  banner.hidden = false;
});

return { listen };
}

/** `<presign-uploader>`: see the top of this file. */
class PresignUploader extends HTMLElement {
  #ui = null;
  #listening = null;

  connectedCallback() {
    this.#ui ??= mount(this);
    this.#listening = new AbortController();
    this.#ui.listen(this.#listening.signal);
  }

  disconnectedCallback() {
    this.#listening?.abort();
    this.#listening = null;
  }
}

if (!customElements.get('presign-uploader')) customElements.define('presign-uploader', PresignUploader);
