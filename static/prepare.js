// What the uploader does to a file before asking for an upload link: type
// it by its contents (sniff.js), refuse what its contents contradict or the
// server does not take in a way a person can act on, and fit an oversized
// image under the limits when the server allows it (resize.js).
import { RESIZABLE, fitImage } from './resize.js';
import { hasSignature, isAnimated, kindOf, readPrefix, sniffType } from './sniff.js';

const HEIC_HINT = 'This is a HEIC photo, the format iPhones save by default. Export it as JPEG and choose that: '
  + 'on an iPhone, set Settings → Camera → Formats → Most Compatible, or share the photo and pick Options → Most Compatible; '
  + 'on a Mac, open it in Preview and choose File → Export → JPEG; on Windows, open it in Photos and Save as JPEG.';

// HEIC and HEIF are one container under two names: a file is sent under
// the name the server takes (its own name first).
function heicName(found, declared, allowed) {
  const names = ['image/heic', 'image/heif'];
  if (!names.includes(found)) return found;
  return [declared, found, ...names].find(name => names.includes(name) && allowed.includes(name)) || found;
}

// Decoding a camera photo takes about 4 bytes a pixel (48 MB for 12 MP):
// images are fitted one after another, not all at once.
let fitting = Promise.resolve();
function oneAtATime(work) {
  const turn = fitting.then(work);
  fitting = turn.catch(() => {});
  return turn;
}

// As uploader.js writes sizes.
function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  const [value, unit] = n < 1024 ** 2 ? [n / 1024, 'KB'] : [n / 1024 ** 2, 'MB'];
  return `${+value.toFixed(1)} ${unit}`;
}

/**
 * Resolves to `{ file, refusal, note }`: `file` typed by its contents (and
 * resized when that was needed and allowed), `refusal` (`{ message, hint,
 * hintId }`) when it must not be sent, `note` saying what was done to it.
 * Type and size limits are left to the caller's own check.
 */
export async function prepareFile(file, cfg) {
  const bytes = await readPrefix(file);
  const found = sniffType(bytes);
  const declared = file.type.toLowerCase();
  const refuse = (message, hintId, hint) => ({ file, refusal: { message, hintId, hint } });
  let type = declared;
  let note = '';
  if (found.startsWith('image/')) {
    type = heicName(found, declared, cfg.allowedTypes);
    if (declared && declared !== type) note = `Uploaded as ${kindOf(found)}: that is what its contents are, whatever its name says.`;
  } else if (found && found !== declared) {
    return refuse(`This file is ${kindOf(found)}, not ${declared ? kindOf(declared) : 'an image'}`, 'content',
      'Its name says one thing and its contents another. Choose the image itself.');
  } else if (!found && hasSignature(declared)) {
    return refuse(`This file’s contents are not ${kindOf(declared)}`, 'content',
      'It may be damaged, or renamed from another kind of file. Choose the image itself.');
  }
  if ((type === 'image/heic' || type === 'image/heif') && !cfg.allowedTypes.includes(type)) {
    return refuse(`${type === 'image/heif' ? 'HEIF' : 'HEIC'} photos cannot be uploaded here`, 'heic', HEIC_HINT);
  }
  let typed = type === file.type ? file : new File([file], file.name, { type, lastModified: file.lastModified });
  const resize = cfg.resize;
  if (!resize || !cfg.allowedTypes.includes(type)) return { file: typed, note };
  if (!RESIZABLE.has(type) || isAnimated(bytes, type)) {
    if (file.size > cfg.maxBytes) {
      const moving = type === 'image/gif' ? 'GIFs' : 'Animated images';
      return refuse(`${formatBytes(file.size)} is over the ${formatBytes(cfg.maxBytes)} limit`, 'animated',
        `${moving} are not resized here: that would flatten them to one frame. Make it smaller in an image editor, then choose it again.`);
    }
    return { file: typed, note };
  }
  let fitted;
  try {
    fitted = await oneAtATime(() => fitImage(typed, { maxBytes: cfg.maxBytes, maxPixels: resize.maxPixels, quality: resize.quality }));
  } catch (err) {
    return refuse(`This image could not be made small enough (${err.message})`, 'size',
      'Make the image smaller or compress it, then choose it again.');
  }
  if (!fitted) return { file: typed, note };
  typed = fitted.file;
  const as = typed.type === type ? '' : ` as ${kindOf(typed.type).replace(/^an? /, '').replace(/ image$/, '')}`;
  note = `${note ? `${note} ` : ''}Resized from ${fitted.fromWidth}×${fitted.fromHeight} to ${fitted.width}×${fitted.height}${as} `
    + 'to fit this site’s limits; its metadata, such as camera and location, was removed.';
  return { file: typed, note, resized: { from: file.size, to: typed.size } };
}
