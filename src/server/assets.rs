//! The upload page and the `<presign-uploader>` module it uses: files
//! under `static/`, embedded at build time. The module and its stylesheet
//! may be loaded by pages of any origin (versioning: see `FILES`).

use super::http::{full, Body};
use hyper::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH,
};
use hyper::{HeaderMap, Response, StatusCode};
use sha2::{Digest, Sha256};

/// How an embedded file may be used by pages of other origins.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sharing {
    /// This server's own page only.
    SameOrigin,
    /// Any site may load it (`Access-Control-Allow-Origin: *`): the
    /// uploader module and its stylesheet, which other sites embed. They
    /// hold no secret and are fetched without credentials.
    AnyOrigin,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const UPLOADER: &[u8] = include_bytes!("../../static/uploader.js");

/// Path, type, bytes, sharing. `/uploader.js` is always the newest element;
/// `/uploader-v1.js` is the same file under the name of its interface
/// version (attributes, events, `--presign-*` properties): a later
/// incompatible element would be `/uploader-v2.js`, and `-v1` kept. Both
/// carry their content hash as ETag and are revalidated on every use.
const FILES: [(&str, &str, &[u8], Sharing); 8] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../../static/index.html"),
        Sharing::SameOrigin,
    ),
    ("/uploader.js", JS, UPLOADER, Sharing::AnyOrigin),
    ("/uploader-v1.js", JS, UPLOADER, Sharing::AnyOrigin),
    (
        "/uploader.css",
        CSS,
        include_bytes!("../../static/uploader.css"),
        Sharing::AnyOrigin,
    ),
    // Modules uploader.js imports (by relative URL, so from whichever
    // origin it came).
    (
        "/prepare.js",
        JS,
        include_bytes!("../../static/prepare.js"),
        Sharing::AnyOrigin,
    ),
    (
        "/sniff.js",
        JS,
        include_bytes!("../../static/sniff.js"),
        Sharing::AnyOrigin,
    ),
    (
        "/resize.js",
        JS,
        include_bytes!("../../static/resize.js"),
        Sharing::AnyOrigin,
    ),
    (
        "/style.css",
        CSS,
        include_bytes!("../../static/style.css"),
        Sharing::SameOrigin,
    ),
];

/// One embedded file.
#[derive(Debug)]
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    sharing: Sharing,
    etag: HeaderValue,
}

/// The embedded files and the Content-Security-Policy they are served with.
#[derive(Debug)]
pub struct Assets {
    files: Vec<Asset>,
    csp: HeaderValue,
}

impl Assets {
    /// `bucket_origin` is where the page may PUT uploads and load previews
    /// from, besides this server itself.
    pub fn new(bucket_origin: Option<&str>) -> Self {
        let extra = bucket_origin.map(|o| format!(" {o}")).unwrap_or_default();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:{extra}; \
             connect-src 'self'{extra}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        let files = FILES
            .iter()
            .map(|&(path, content_type, bytes, sharing)| {
                let digest = hex::encode(&Sha256::digest(bytes)[..12]);
                Asset {
                    path,
                    content_type,
                    bytes,
                    sharing,
                    etag: HeaderValue::from_str(&format!("\"{digest}\""))
                        .unwrap_or(HeaderValue::from_static("\"0\"")),
                }
            })
            .collect();
        Assets {
            files,
            // Origins are URL-shaped, so this is always a valid header value.
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("default-src 'self'")),
        }
    }

    /// The response for `path`, or `None` if no such file is embedded.
    pub fn get(&self, path: &str, request: &HeaderMap) -> Option<Response<Body>> {
        let asset = self.files.iter().find(|a| a.path == path)?;
        let mut response = Response::new(full(asset.bytes));
        let headers = response.headers_mut();
        headers.insert(ETAG, asset.etag.clone());
        // Revalidate every time: cheap with the ETag, and never stale.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("content-security-policy", self.csp.clone());
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if asset.sharing == Sharing::AnyOrigin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(
                "cross-origin-resource-policy",
                HeaderValue::from_static("cross-origin"),
            );
        }
        if request.get(IF_NONE_MATCH) == Some(&asset.etag) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            *response.body_mut() = full(&b""[..]);
            return Some(response);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(asset.bytes.len()));
        Some(response)
    }
}
