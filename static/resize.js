// Fits an oversized image under the server's limits by re-encoding it with
// a canvas, in the browser: no upload of the original, no build step.
// createImageBitmap applies the EXIF orientation, so the pixels come out
// upright; re-encoding writes no metadata, so EXIF (camera, GPS position)
// is gone from the result. Animated images are never given here.

/** Types a canvas can decode and re-encode without losing anything but pixels and metadata. */
export const RESIZABLE = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/avif']);

const MAX_ATTEMPTS = 6;

/**
 * Re-encodes `file` if it is over `maxBytes` or over `maxPixels`; resolves
 * to null when it already fits, else to `{ file, width, height, fromWidth,
 * fromHeight }`. JPEG stays JPEG; other types become WebP (which keeps
 * transparency) where the browser can encode it. Throws if even small
 * versions stay over `maxBytes`.
 */
export async function fitImage(file, { maxBytes, maxPixels, quality }) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    const { width: fromWidth, height: fromHeight } = bitmap;
    const pixels = fromWidth * fromHeight;
    if (file.size <= maxBytes && pixels <= maxPixels) return null;
    const type = file.type === 'image/jpeg' ? 'image/jpeg' : 'image/webp';
    let scale = Math.min(1, Math.sqrt(maxPixels / pixels));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const width = Math.max(1, Math.floor(fromWidth * scale));
      const height = Math.max(1, Math.floor(fromHeight * scale));
      const blob = await encode(bitmap, width, height, type, quality);
      if (blob.size <= maxBytes) {
        const resized = new File([blob], file.name, { type: blob.type, lastModified: file.lastModified });
        return { file: resized, width, height, fromWidth, fromHeight };
      }
      // Bytes grow with the pixel count: shrink by the overshoot, and a little more.
      scale *= Math.sqrt(maxBytes / blob.size) * 0.95;
    }
    throw new Error('it stays over the size limit even when made much smaller');
  } finally {
    bitmap.close();
  }
}

async function encode(bitmap, width, height, type, quality) {
  if (typeof OffscreenCanvas === 'function') {
    const canvas = new OffscreenCanvas(width, height);
    draw(canvas.getContext('2d'), bitmap, width, height);
    return canvas.convertToBlob({ type, quality });
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  draw(canvas.getContext('2d'), bitmap, width, height);
  return new Promise((resolve, reject) => canvas.toBlob(
    blob => (blob ? resolve(blob) : reject(new Error('the browser could not encode it'))), type, quality));
}

function draw(context, bitmap, width, height) {
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
}
