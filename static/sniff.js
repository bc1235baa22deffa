// What a file is, by its first bytes rather than its name: the browser
// types a file by its extension (and gives none to .HEIC on Linux), so a
// PNG named .jpg claims to be a JPEG and an HTML page named .png claims to
// be an image. The same signatures as the local bucket's check
// (src/server/sniff.rs), so page and bucket agree.

/** How many first bytes are read: enough for every signature below. */
export const PREFIX_LEN = 512;

/** The first PREFIX_LEN bytes of `blob`. */
export async function readPrefix(blob) {
  return new Uint8Array(await blob.slice(0, PREFIX_LEN).arrayBuffer());
}

const ascii = (bytes, start, end) => String.fromCharCode(...bytes.subarray(start, end));
const startsWith = (bytes, signature) => signature.every((b, i) => bytes[i] === b);

/** The type `bytes` recognisably are, or '' when they match no signature here. */
export function sniffType(bytes) {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (/^GIF8[79]a/.test(ascii(bytes, 0, 6))) return 'image/gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'image/webp';
  if (ascii(bytes, 0, 5) === '%PDF-') return 'application/pdf';
  return isoBmff(bytes) || markup(bytes);
}

// AVIF and HEIC/HEIF: an ISO base media 'ftyp' box naming the format in its brands.
function isoBmff(bytes) {
  if (bytes.length < 12 || ascii(bytes, 4, 8) !== 'ftyp') return '';
  const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
  const end = Math.min(Math.max(size, 16), bytes.length);
  const brands = [ascii(bytes, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(bytes, i, i + 4));
  if (brands.some(b => b === 'avif' || b === 'avis')) return 'image/avif';
  if (brands.some(b => /^he(ic|ix|im|is)$|^hev[cx]$/.test(b))) return 'image/heic';
  if (brands.some(b => b === 'mif1' || b === 'msf1')) return 'image/heif';
  return '';
}

// The HTML openings of the WHATWG MIME sniffing standard, and SVG.
const HTML_TAGS = ['!doctype html', 'html', 'head', 'script', 'iframe', 'h1', 'div', 'font', 'table',
  'a', 'style', 'title', 'b', 'body', 'br', 'p'];

function markup(bytes) {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/^\uFEFF?[ \t\n\r\f]*/, '').toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'image/svg+xml';
  if (text.startsWith('<!--') || HTML_TAGS.some(tag => text.startsWith(`<${tag}`) && /^[ >]/.test(text.slice(tag.length + 1)))) {
    return 'text/html';
  }
  return '';
}

/**
 * Whether an image of `type` whose first bytes are `bytes` moves: an APNG
 * (acTL before the first frame), an animated WebP (VP8X animation flag) or
 * an AVIF sequence. GIFs count as animated whatever their frame count.
 */
export function isAnimated(bytes, type) {
  if (type === 'image/gif') return true;
  if (type === 'image/png') return ascii(bytes, 0, bytes.length).includes('acTL');
  if (type === 'image/webp') return ascii(bytes, 12, 16) === 'VP8X' && (bytes[20] & 0x02) !== 0;
  if (type === 'image/avif') return ascii(bytes, 8, 12) === 'avis';
  return false;
}

const KINDS = {
  'image/jpeg': 'a JPEG image',
  'image/png': 'a PNG image',
  'image/gif': 'a GIF image',
  'image/webp': 'a WebP image',
  'image/avif': 'an AVIF image',
  'image/heic': 'a HEIC photo',
  'image/heif': 'a HEIF photo',
  'image/svg+xml': 'an SVG drawing',
  'application/pdf': 'a PDF document',
  'text/html': 'an HTML page',
};

/** "a PNG image": what people call a file of `type`. */
export function kindOf(type) {
  return KINDS[type] || (type ? `a file of type ${type}` : 'a file of unknown type');
}

/**
 * Whether a file of `type` always starts with a signature sniffType knows,
 * so bytes without it contradict the type. Not SVG and HTML: text may start
 * with a long comment.
 */
export function hasSignature(type) {
  return type in KINDS && type !== 'image/svg+xml' && type !== 'text/html';
}
