//! The multipart API: `POST /api/multipart` (create) and
//! `/api/multipart/{parts,list,complete,abort}`. The server never calls
//! S3: each answer is a presigned URL the browser calls itself. What the
//! server authorised at create time travels in an upload ticket
//! ([`super::ticket`]), so it signs only the part numbers and lengths of
//! the declared file, for its key, and keeps no state.

use super::api::{
    admit, check_file, created, parse_size, push_rfc3339, read_body, required, view_url, BodyKind,
};
use super::api_error::ApiError;
use super::form::Form;
use super::http::{push_json_string, respond, Body};
use super::metrics::Issued;
use super::state::State;
use super::ticket::{Ticket, TicketError};
use crate::s3::ObjectRequest;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Request, Response, StatusCode};
use std::net::IpAddr;
use time::OffsetDateTime;

/// The paths of this API (all take `POST` only).
pub const PATHS: [&str; 5] = [
    "/api/multipart",
    "/api/multipart/parts",
    "/api/multipart/list",
    "/api/multipart/complete",
    "/api/multipart/abort",
];

/// The most part URLs one request signs.
pub const MAX_PARTS_PER_REQUEST: usize = 100;

/// The largest form read: a key, a ticket, an upload id of up to 1024
/// characters and 100 part numbers fit with room to spare.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// Answers a `POST` to one of [`PATHS`].
pub async fn handle(request: Request<Incoming>, state: &State, client: IpAddr) -> Response<Body> {
    let path = request.uri().path().to_owned();
    step(&path, request, state, client)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn step(
    path: &str,
    request: Request<Incoming>,
    state: &State,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let host = admit(state, &parts.headers, client)?;
    let body = read_body(state, &parts.headers, body, BodyKind::Form(MAX_FORM_BYTES)).await?;
    let fields = super::form::parse(&body).map_err(ApiError::MalformedForm)?;
    let bucket = state.bucket(host).ok_or(ApiError::NoHost)?;
    let now = OffsetDateTime::now_utc();
    if path == "/api/multipart" {
        return create(state, &bucket, &fields, now);
    }
    let key = required(&fields, "key")?;
    let ticket_text = required(&fields, "ticket")?;
    let secret = &state.config.multipart.ticket_key;
    // Aborting only frees storage: an expired (but genuine) ticket may.
    let ticket = if path == "/api/multipart/abort" {
        Ticket::decode_unexpired(ticket_text, secret, key)
    } else {
        Ticket::decode(ticket_text, secret, key, now.unix_timestamp())
    }
    .map_err(|e| match e {
        TicketError::Invalid => ApiError::InvalidTicket,
        TicketError::Expired => ApiError::TicketExpired,
    })?;
    let upload_id = required(&fields, "uploadId")?;
    if upload_id.len() > 1024 || !upload_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidUploadId);
    }
    let id = ("uploadId", Some(upload_id));
    let current = state.signer.current();
    let lifetime = current.lifetime(state.config.policy.expires_seconds, now)?;
    let sign = |request: &ObjectRequest<'_>| {
        bucket
            .presign(&current.signer, request, now, lifetime)
            .map(|p| (p.url, p.expires_at))
    };
    match path {
        "/api/multipart/parts" => {
            let numbers = part_numbers(required(&fields, "parts")?, &ticket)?;
            let mut out = String::with_capacity(numbers.len() * (key.len() + 600));
            out.push_str("{\"parts\":[");
            let mut expires_at = now;
            for (i, (number, len)) in numbers.iter().enumerate() {
                let (number, len) = (number.to_string(), len.to_string());
                let (url, expires) = sign(&ObjectRequest {
                    query: &[("partNumber", Some(&number)), id],
                    headers: &[("content-length", &len)],
                    ..ObjectRequest::new("PUT", key)
                })?;
                expires_at = expires;
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"partNumber\":");
                out.push_str(&number);
                out.push_str(",\"url\":");
                push_json_string(&mut out, &url);
                out.push_str(",\"size\":");
                out.push_str(&len);
                out.push_str(",\"method\":\"PUT\"}");
            }
            out.push_str("],\"expiresAt\":\"");
            push_rfc3339(&mut out, expires_at);
            out.push_str("\"}");
            Ok(ok(out, numbers.len()))
        }
        "/api/multipart/list" => {
            let marker = match fields.get("marker").map(str::trim) {
                None | Some("") => None,
                Some(m) => Some(
                    m.parse::<u64>()
                        .ok()
                        .filter(|m| *m <= ticket.part_count())
                        .ok_or_else(|| {
                            ApiError::InvalidPart(format!(
                                "The field 'marker' must be a part number from 0 to {}.",
                                ticket.part_count()
                            ))
                        })?
                        .to_string(),
                ),
            };
            let mut query = vec![id, ("max-parts", Some("1000"))];
            if let Some(marker) = &marker {
                query.push(("part-number-marker", Some(marker)));
            }
            let (url, expires) = sign(&ObjectRequest {
                query: &query,
                ..ObjectRequest::new("GET", key)
            })?;
            Ok(ok(step_json("GET", &url, &[], expires), 1))
        }
        "/api/multipart/complete" => {
            let exclusive = [("if-none-match", "*")];
            let headers = if state.config.policy.if_none_match {
                &exclusive[..]
            } else {
                &[]
            };
            let (url, expires) = sign(&ObjectRequest {
                query: &[id],
                headers,
                ..ObjectRequest::new("POST", key)
            })?;
            Ok(ok(step_json("POST", &url, headers, expires), 1))
        }
        _ => {
            let (url, expires) = sign(&ObjectRequest {
                query: &[id],
                ..ObjectRequest::new("DELETE", key)
            })?;
            Ok(ok(step_json("DELETE", &url, &[], expires), 1))
        }
    }
}

/// `POST /api/multipart`: a key, its ticket, and the presigned
/// CreateMultipartUpload, which fixes the object's type.
fn create(
    state: &State,
    bucket: &crate::s3::Bucket,
    fields: &Form<'_>,
    now: OffsetDateTime,
) -> Result<Response<Body>, ApiError> {
    let filename = required(fields, "filename")?;
    let content_type = required(fields, "type")?;
    let size = parse_size(required(fields, "size")?)?;
    let content_type = check_file(state, filename, content_type, size)?;
    let multipart = &state.config.multipart;
    let ticket = Ticket {
        content_type: content_type.to_owned(),
        size,
        part_size: multipart.part_size(size),
        expires_at: now.unix_timestamp() + i64::from(multipart.ticket_seconds),
    };
    let key = state.keys.key(&state.config.policy, content_type, now);
    let current = state.signer.current();
    let lifetime = current.lifetime(state.config.policy.expires_seconds, now)?;
    let headers = [("content-type", content_type)];
    let create = bucket.presign(
        &current.signer,
        &ObjectRequest {
            query: &[("uploads", None)],
            headers: &headers,
            ..ObjectRequest::new("POST", &key)
        },
        now,
        lifetime,
    )?;
    let view_url = view_url(state, bucket, &current, &key, now)?;
    let mut out = String::with_capacity(2048);
    out.push_str("{\"key\":");
    push_json_string(&mut out, &key);
    out.push_str(",\"ticket\":");
    push_json_string(&mut out, &ticket.encode(&multipart.ticket_key, &key));
    out.push_str(&format!(
        ",\"partSize\":{},\"partCount\":{},\"expiresAt\":\"",
        ticket.part_size,
        ticket.part_count()
    ));
    push_rfc3339(
        &mut out,
        OffsetDateTime::from_unix_timestamp(ticket.expires_at).unwrap_or(now),
    );
    out.push_str("\",\"create\":");
    out.push_str(&step_json("POST", &create.url, &headers, create.expires_at));
    out.push_str(",\"viewUrl\":");
    push_json_string(&mut out, &view_url);
    out.push('}');
    let mut response = created(out);
    response.extensions_mut().insert(Issued::multipart(1, 1));
    Ok(response)
}

/// `parts=1,2,3`: each with its exact length, or why the ticket refuses.
fn part_numbers(text: &str, ticket: &Ticket) -> Result<Vec<(u64, u64)>, ApiError> {
    let count = ticket.part_count();
    let numbers: Vec<&str> = text.split(',').map(str::trim).collect();
    if numbers.len() > MAX_PARTS_PER_REQUEST {
        return Err(ApiError::InvalidPart(format!(
            "Ask for at most {MAX_PARTS_PER_REQUEST} part numbers at once; this asks for {}.",
            numbers.len()
        )));
    }
    numbers
        .iter()
        .map(|n| {
            n.parse::<u64>()
                .ok()
                .and_then(|number| Some((number, ticket.part_len(number)?)))
                .ok_or_else(|| {
                    ApiError::InvalidPart(format!(
                        "Part {n:?} is not a part of this upload: its part numbers are 1 to {count}."
                    ))
                })
        })
        .collect()
}

/// `{"method", "url", "headers": {…}, "expiresAt"}`: `headers` always
/// there (maybe empty), so a client can always send them.
fn step_json(method: &str, url: &str, headers: &[(&str, &str)], expires: OffsetDateTime) -> String {
    let mut out = String::with_capacity(url.len() + 128);
    out.push_str("{\"method\":");
    push_json_string(&mut out, method);
    out.push_str(",\"url\":");
    push_json_string(&mut out, url);
    out.push_str(",\"headers\":{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push(':');
        push_json_string(&mut out, value);
    }
    out.push('}');
    out.push_str(",\"expiresAt\":\"");
    push_rfc3339(&mut out, expires);
    out.push_str("\"}");
    out
}

/// A `200` with a JSON body carrying `urls` presigned URLs, never cached.
fn ok(body: String, urls: usize) -> Response<Body> {
    let mut response = respond(StatusCode::OK, "application/json", body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(Issued::multipart(urls, 0));
    response
}
