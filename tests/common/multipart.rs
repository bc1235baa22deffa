//! A client of the multipart API as the page drives it: ask the server
//! for a presigned URL, send it to the store, read the XML. Shared by the
//! local-bucket and SeaweedFS tests.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use super::http;
use serde_json::Value;

/// The presign server's API.
pub struct Api {
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Api {
    /// `POST <path>` with a urlencoded form of `fields`.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> http::Response {
        let body = form(fields);
        http::send(
            &self.addr,
            "POST",
            &format!("http://{}{path}", self.addr),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .unwrap()
    }

    /// `POST <path>` with a JSON body.
    pub fn post_json(&self, path: &str, body: &Value) -> http::Response {
        http::send(
            &self.addr,
            "POST",
            &format!("http://{}{path}", self.addr),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap()
    }

    /// `POST <path>`, which must answer `status`; its JSON.
    pub fn expect(&self, path: &str, fields: &[(&str, &str)], status: u16) -> Value {
        let r = self.post(path, fields);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        json(&r)
    }

    /// Starts an upload of `size` bytes of `content_type`: the API's answer
    /// and the upload id the store gave.
    pub fn create(&self, size: u64, content_type: &str) -> (Value, String) {
        let size = size.to_string();
        let created = self.expect(
            "/api/multipart",
            &[
                ("filename", "big file.png"),
                ("type", content_type),
                ("size", &size),
            ],
            201,
        );
        let r = call(&created["create"], b"");
        assert_eq!(r.status, 200, "create: {}", r.text());
        let id = http::xml_element(&r.body, "UploadId").expect("an UploadId");
        (created, id)
    }

    /// `/api/multipart/<step>` for an upload, with more fields.
    pub fn step(
        &self,
        step: &str,
        created: &Value,
        upload_id: &str,
        more: &[(&str, &str)],
    ) -> http::Response {
        let mut fields = vec![
            ("key", created["key"].as_str().unwrap()),
            ("ticket", created["ticket"].as_str().unwrap()),
            ("uploadId", upload_id),
        ];
        fields.extend_from_slice(more);
        self.post(&format!("/api/multipart/{step}"), &fields)
    }

    /// Presigned part URLs for `numbers`.
    pub fn part_urls(&self, created: &Value, upload_id: &str, numbers: &[u64]) -> Vec<Value> {
        let list: Vec<String> = numbers.iter().map(u64::to_string).collect();
        let r = self.step("parts", created, upload_id, &[("parts", &list.join(","))]);
        assert_eq!(r.status, 200, "parts: {}", r.text());
        json(&r)["parts"].as_array().unwrap().clone()
    }

    /// Uploads parts `numbers` of `data` (in parallel) and returns their
    /// ETags by number.
    pub fn put_parts(
        &self,
        created: &Value,
        upload_id: &str,
        numbers: &[u64],
        data: &[u8],
    ) -> Vec<(u64, String)> {
        let part_size = created["partSize"].as_u64().unwrap() as usize;
        let urls = self.part_urls(created, upload_id, numbers);
        let mut etags: Vec<(u64, String)> = std::thread::scope(|scope| {
            let running: Vec<_> = urls
                .iter()
                .map(|part| {
                    scope.spawn(move || {
                        let n = part["partNumber"].as_u64().unwrap();
                        let start = (n as usize - 1) * part_size;
                        let len = part["size"].as_u64().unwrap() as usize;
                        let r = call(part, &data[start..start + len]);
                        assert_eq!(r.status, 200, "part {n}: {}", r.text());
                        (n, r.header("etag").expect("an ETag").to_owned())
                    })
                })
                .collect();
            running.into_iter().map(|t| t.join().unwrap()).collect()
        });
        etags.sort();
        etags
    }

    /// Completes the upload with `parts`; the store's answer.
    pub fn complete(
        &self,
        created: &Value,
        upload_id: &str,
        parts: &[(u64, String)],
    ) -> http::Response {
        let r = self.step("complete", created, upload_id, &[]);
        assert_eq!(r.status, 200, "complete: {}", r.text());
        call(&json(&r), complete_body(parts).as_bytes())
    }
}

/// Sends `{"method", "url", "headers"}` as the page does, with `body`.
pub fn call(step: &Value, body: &[u8]) -> http::Response {
    let url = step["url"].as_str().unwrap();
    let headers: Vec<(String, String)> = step["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let method = step["method"].as_str().unwrap_or("PUT");
    let (authority, _) = http::url::target(url);
    http::send(authority, method, url, &headers, body).unwrap()
}

/// `<CompleteMultipartUpload>` of `parts`, as the page writes it.
pub fn complete_body(parts: &[(u64, String)]) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

/// The JSON body of a response.
pub fn json(r: &http::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// A urlencoded form.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `len` bytes that differ at every offset a misplaced part could land on
/// (xorshift), so a part in the wrong place shows.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
