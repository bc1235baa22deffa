// The few S3 XML answers the uploader reads: InitiateMultipartUploadResult,
// ListPartsResult, CompleteMultipartUploadResult and <Error>. S3 writes them
// flat and without attributes that matter here, so a small reader is enough
// and the modules that use it stay free of the DOM (DOMParser is not in workers).

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** `text` with XML character references and the five named entities decoded. */
export function decodeXml(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (whole, ref) => {
    if (ref[0] !== '#') return ENTITIES[ref.toLowerCase()] ?? whole;
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return Number.isInteger(code) && code >= 0 && code <= 0x10FFFF ? String.fromCodePoint(code) : whole;
  });
}

/** The name of the document's root element, past the declaration, comments and whitespace. */
export function rootName(xml) {
  const body = xml.replace(/^\uFEFF/, '').replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, '');
  return /^\s*<([A-Za-z_][\w.:-]*)/.exec(body)?.[1].replace(/^.*:/, '') ?? '';
}

/** The decoded text of the first `<tag>` in `xml`, or '' when there is none. */
export function childText(xml, tag) {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match ? decodeXml(match[1]).trim() : '';
}

/** The inner XML of every `<tag>…</tag>` in `xml`. */
export function elements(xml, tag) {
  return [...xml.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g'))].map(m => m[1]);
}

/** `{code, message}` of an S3 `<Error>` document, or null when `xml` is not one. */
export function s3Error(xml) {
  if (rootName(xml) !== 'Error') return null;
  return { code: childText(xml, 'Code'), message: childText(xml, 'Message') };
}

/** The UploadId of an InitiateMultipartUploadResult, or '' when the answer is something else. */
export function uploadIdOf(xml) {
  return rootName(xml) === 'InitiateMultipartUploadResult' ? childText(xml, 'UploadId') : '';
}

/**
 * One page of a ListPartsResult: `parts` as `{partNumber, etag, size}`, and
 * `next`, the marker of the following page, or '' when this was the last.
 * Returns null when `xml` is not a ListPartsResult.
 */
export function listPartsPage(xml) {
  if (rootName(xml) !== 'ListPartsResult') return null;
  const parts = elements(xml, 'Part').map(part => ({
    partNumber: Number(childText(part, 'PartNumber')),
    etag: childText(part, 'ETag'),
    size: Number(childText(part, 'Size')),
  }));
  const truncated = childText(xml, 'IsTruncated') === 'true';
  return { parts, next: truncated ? childText(xml, 'NextPartNumberMarker') : '' };
}

// Quotes stay as they are: ETags are quoted, and element text needs only these three escaped.
const escapeXml = text => text.replace(/[&<>]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);

/** The CompleteMultipartUpload body for `parts` (`{partNumber, etag}`), sorted by part number as S3 requires. */
export function completeBody(parts) {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  const items = sorted.map(p => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`);
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${items.join('')}</CompleteMultipartUpload>`;
}
