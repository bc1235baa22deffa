//! How the local bucket keeps the parts of a multipart upload, over real
//! TCP with URLs signed as any S3 client would: a part sent again
//! replaces the old one whole, many parts stored at once are all listed
//! with their ETags, two clients racing for one part number leave
//! exactly one part, complete holds few parts open however many there
//! are, takes a part replaced meanwhile whole or refuses it, and an abort
//! racing parts leaves nothing.
#![cfg(feature = "server")]

#[path = "common/binary.rs"]
mod binary;
#[path = "common/http.rs"]
mod http;
#[path = "common/multipart.rs"]
mod multipart;
#[path = "common/server.rs"]
mod server;

use multipart::complete_body;
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use server::TestServer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Client threads sending parts at the same time.
const CLIENTS: usize = 8;

/// A server with the local bucket these tests sign for: in this
/// process ([`TestServer`]) or the binary in a child ([`binary::Served`]).
trait Listening {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
}

impl Listening for TestServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Listening for binary::Served {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A URL for `key` signed directly with the bucket's keys.
fn signed(s: &impl Listening, method: &str, key: &str, query: &[(&str, Option<&str>)]) -> String {
    let endpoint = Endpoint::parse(&format!("http://{}/s3", s.addr())).unwrap();
    let bucket = Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap();
    let signer = Signer::new(
        Credentials::new(server::KEY_ID, server::SECRET),
        "us-east-1",
        "s3",
    );
    let request = ObjectRequest {
        query,
        ..ObjectRequest::new(method, key)
    };
    bucket
        .presign(&signer, &request, OffsetDateTime::now_utc(), 300)
        .unwrap()
        .url
}

fn send(s: &impl Listening, method: &str, url: &str, body: &[u8]) -> http::Response {
    http::send(&s.addr().to_string(), method, url, &[], body).unwrap()
}

/// Opens an upload of `key`: its id.
fn create(s: &impl Listening, key: &str) -> String {
    let r = send(
        s,
        "POST",
        &signed(s, "POST", key, &[("uploads", None)]),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    http::xml_element(&r.body, "UploadId").unwrap()
}

/// Stores part `number`: its ETag, quotes removed.
fn put_part(s: &impl Listening, key: &str, id: &str, number: u64, body: &[u8]) -> String {
    let n = number.to_string();
    let query = [("partNumber", Some(n.as_str())), ("uploadId", Some(id))];
    let r = send(s, "PUT", &signed(s, "PUT", key, &query), body);
    assert_eq!(r.status, 200, "part {number}: {}", r.text());
    r.header("etag").unwrap().trim_matches('"').to_owned()
}

/// One listed part: number, ETag (quotes removed), size.
type Listed = (u64, String, u64);

/// One ListParts page after `marker`: its parts and whether more follow.
fn list_page(s: &TestServer, key: &str, id: &str, marker: u64, max: u64) -> (Vec<Listed>, bool) {
    let (marker, max) = (marker.to_string(), max.to_string());
    let query = [
        ("max-parts", Some(max.as_str())),
        ("part-number-marker", Some(marker.as_str())),
        ("uploadId", Some(id)),
    ];
    let r = send(s, "GET", &signed(s, "GET", key, &query), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let parts = r
        .text()
        .split("<Part>")
        .skip(1)
        .map(|part| {
            let field = |name| http::xml_element(part.as_bytes(), name).unwrap();
            (
                field("PartNumber").parse().unwrap(),
                field("ETag").replace("&quot;", ""),
                field("Size").parse().unwrap(),
            )
        })
        .collect();
    let truncated = http::xml_element(&r.body, "IsTruncated").unwrap() == "true";
    (parts, truncated)
}

/// Every part, listed a page of `max` at a time.
fn list_all(s: &TestServer, key: &str, id: &str, max: u64) -> Vec<Listed> {
    let mut all: Vec<Listed> = Vec::new();
    loop {
        let marker = all.last().map_or(0, |p| p.0);
        let (page, truncated) = list_page(s, key, id, marker, max);
        assert!(page.len() as u64 <= max);
        all.extend(page);
        if !truncated {
            return all;
        }
    }
}

fn complete(s: &impl Listening, key: &str, id: &str, parts: &[(u64, String)]) -> http::Response {
    let url = signed(s, "POST", key, &[("uploadId", Some(id))]);
    send(s, "POST", &url, complete_body(parts).as_bytes())
}

/// The files of the bucket's temporary directory: the upload's record,
/// its parts, and anything else left there.
fn temporary_files(s: &TestServer) -> Vec<String> {
    s.files()
        .into_iter()
        .filter(|f| f.starts_with(".presign-tmp/"))
        .collect()
}

/// Part `n`'s body in [`put_parts_at_once`]: `n` in decimal, repeated
/// `n % 7 + 1` times (a few bytes, sizes that differ).
fn small_body(n: u64) -> Vec<u8> {
    n.to_string().repeat(n as usize % 7 + 1).into_bytes()
}

/// Stores parts `1..=count` of `key` with [`small_body`], `CLIENTS` at a
/// time: their ETags by number.
fn put_parts_at_once(s: &TestServer, key: &str, id: &str, count: u64) -> Vec<(u64, String)> {
    let mut etags: Vec<(u64, String)> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS as u64)
            .map(|client| {
                scope.spawn(move || {
                    (1..=count)
                        .filter(|n| n % CLIENTS as u64 == client)
                        .map(|n| (n, put_part(s, key, id, n, &small_body(n))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    etags.sort();
    etags
}

#[test]
fn a_part_sent_twice_is_the_second_one_everywhere() {
    let s = TestServer::start(&[]);
    let key = "twice/x.png";
    let id = create(&s, key);
    let first = put_part(&s, key, &id, 1, b"the first bytes");
    let second = put_part(&s, key, &id, 1, b"the second, longer bytes");
    assert_ne!(first, second);
    let listed = list_all(&s, key, &id, 1000);
    assert_eq!(listed, [(1, second.clone(), 24)]);
    // Only the upload's record and one part are on disk.
    assert_eq!(temporary_files(&s).len(), 2, "{:?}", temporary_files(&s));
    let r = complete(&s, key, &id, &[(1, first)]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some("InvalidPart"));
    let r = complete(&s, key, &id, &[(1, second)]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        std::fs::read(s.dir.join(key)).unwrap(),
        b"the second, longer bytes"
    );
    assert_eq!(s.files(), [key], "the upload is gone");
}

#[test]
fn a_thousand_parts_stored_at_once_are_all_listed_with_their_etags() {
    let s = TestServer::start(&[]);
    let key = "many/x.png";
    let id = create(&s, key);
    // Parts under 5 MiB are refused only at complete: stored, they list.
    let etags = put_parts_at_once(&s, key, &id, 1000);
    assert_eq!(etags.len(), 1000);
    for max in [1000, 77] {
        let listed = list_all(&s, key, &id, max);
        let expected: Vec<Listed> = etags
            .iter()
            .map(|(n, etag)| (*n, etag.clone(), small_body(*n).len() as u64))
            .collect();
        assert!(listed == expected, "max-parts={max}");
    }
    assert_eq!(temporary_files(&s).len(), 1001, "the record and the parts");
    // Every part is checked at complete: the smallest refusal is the size.
    let r = complete(&s, key, &id, &etags);
    assert_eq!(
        r.s3_code().as_deref(),
        Some("EntityTooSmall"),
        "{}",
        r.text()
    );
    let last = &etags[999..];
    assert_eq!(complete(&s, key, &id, last).status, 200);
    assert_eq!(std::fs::read(s.dir.join(key)).unwrap(), small_body(1000));
    assert_eq!(s.files(), [key], "every part is gone");
}

#[test]
fn clients_racing_for_one_part_number_leave_exactly_one_part() {
    let s = TestServer::start(&[]);
    let key = "race/x.png";
    let id = create(&s, key);
    const NUMBERS: u64 = 20;
    // Two clients send every part number at once, with bodies of different
    // lengths; a third lists meanwhile.
    let bodies = [b"from the first client".to_vec(), b"second".to_vec()];
    let answered: Vec<AtomicBool> = (0..=NUMBERS).map(|_| AtomicBool::new(false)).collect();
    let done = AtomicBool::new(false);
    let answers: Vec<Vec<(u64, String)>> = std::thread::scope(|scope| {
        let lister = scope.spawn(|| {
            let mut lists = 0;
            while !done.load(Ordering::SeqCst) {
                let before: Vec<u64> = (1..=NUMBERS)
                    .filter(|&n| answered[n as usize].load(Ordering::SeqCst))
                    .collect();
                let listed = list_all(&s, key, &id, 1000);
                let numbers: Vec<u64> = listed.iter().map(|p| p.0).collect();
                assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
                // A part once stored is never missing, even while replaced,
                // and is whole: one client's bytes.
                assert!(before.iter().all(|n| numbers.contains(n)), "{numbers:?}");
                assert!(listed
                    .iter()
                    .all(|p| bodies.iter().any(|b| b.len() as u64 == p.2)));
                lists += 1;
            }
            lists
        });
        let clients: Vec<_> = bodies
            .iter()
            .map(|body| {
                scope.spawn(|| {
                    (1..=NUMBERS)
                        .map(|n| {
                            let etag = put_part(&s, key, &id, n, body);
                            answered[n as usize].store(true, Ordering::SeqCst);
                            (n, etag)
                        })
                        .collect()
                })
            })
            .collect();
        let answers = clients.into_iter().map(|c| c.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        assert!(lister.join().unwrap() > 0);
        answers
    });
    let listed = list_all(&s, key, &id, 1000);
    assert_eq!(listed.len(), NUMBERS as usize);
    for (n, etag, size) in &listed {
        // The ETag listed is one of the two answers, and the size the
        // bytes of the client it answered.
        let winner = (0..2)
            .find(|&c| answers[c][*n as usize - 1].1 == *etag)
            .unwrap_or_else(|| panic!("part {n}: {etag} was never answered"));
        assert_eq!(*size, bodies[winner].len() as u64, "part {n}");
    }
    assert_eq!(temporary_files(&s).len(), 1 + NUMBERS as usize);
    // Complete takes the bytes of the part listed.
    let (n, etag, _) = &listed[0];
    assert_eq!(complete(&s, key, &id, &[(*n, etag.clone())]).status, 200);
    let winner = if answers[0][0].1 == *etag { 0 } else { 1 };
    assert_eq!(std::fs::read(s.dir.join(key)).unwrap(), bodies[winner]);
    assert_eq!(s.files(), [key]);
}

/// The soft limit on open files of the server in
/// [`completing_more_parts_than_the_open_file_limit_works`], and that
/// test's number of parts: as many parts as the limit, so a complete that
/// held every part open at once could never fit, whatever else the
/// server has open (about a dozen files).
const OPEN_FILES: u64 = 24;
/// S3's smallest part but the last (`config::multipart::MIN_PART_BYTES`).
const MIN_PART: usize = 5 * 1024 * 1024;

/// A `presign serve` child, killed when dropped (a failed test included).
struct Child(binary::Served);

impl Listening for Child {
    fn addr(&self) -> SocketAddr {
        self.0.addr
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// Part `n` of [`OPEN_FILES`] parts: the last a few bytes, the others
/// [`MIN_PART`] long, each starting with its number, so a part copied
/// twice or out of place shows.
fn numbered_part(n: u64, pattern: &[u8]) -> Vec<u8> {
    if n == OPEN_FILES {
        return b"the last part".to_vec();
    }
    let mut body = pattern.to_vec();
    body[..8].copy_from_slice(&n.to_le_bytes());
    body
}

#[test]
fn completing_more_parts_than_the_open_file_limit_works() {
    let started = Instant::now();
    let dir = server::temp_dir("open-files");
    let bucket = dir.join("data");
    let served = Child(binary::serve(
        binary::command_with_open_files(OPEN_FILES),
        "open-files",
        &[
            ("LOCAL_BUCKET_DIR", bucket.to_str().unwrap()),
            ("LOCAL_BUCKET_ACCESS_KEY_ID", server::KEY_ID),
            ("LOCAL_BUCKET_SECRET_ACCESS_KEY", server::SECRET),
            ("UPLOAD_MAX_BYTES", "1073741824"),
            ("ACCESS_LOG", "off"),
        ],
    ));
    let key = "open-files/x.png";
    let id = create(&served, key);
    let pattern = multipart::pattern(MIN_PART);
    let etags: Vec<(u64, String)> = (1..=OPEN_FILES)
        .map(|n| {
            (
                n,
                put_part(&served, key, &id, n, &numbered_part(n, &pattern)),
            )
        })
        .collect();
    let r = complete(&served, key, &id, &etags);
    assert_eq!(r.status, 200, "{}", r.text());
    let object = std::fs::read(bucket.join(key)).unwrap();
    let mut at = 0;
    for n in 1..=OPEN_FILES {
        let part = numbered_part(n, &pattern);
        assert!(object[at..at + part.len()] == part[..], "part {n}");
        at += part.len();
    }
    assert_eq!(at, object.len());
    assert_eq!(server::files(&bucket), [key], "the parts are gone");
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{OPEN_FILES} parts: {:?}", started.elapsed());
}

/// Parts stored before [`an_abort_racing_parts_leaves_nothing`] aborts:
/// enough that removing them takes a while for parts to land in.
const STORED: u64 = 300;
/// Uploads raced with an abort in that test.
const ABORT_ROUNDS: usize = 5;

#[test]
fn an_abort_racing_parts_leaves_nothing() {
    let started = Instant::now();
    let s = TestServer::start(&[]);
    let uploads = s.dir.join(".presign-tmp").join("multipart");
    for round in 0..ABORT_ROUNDS {
        let key = format!("abort-race/{round}.png");
        let id = create(&s, &key);
        put_parts_at_once(&s, &key, &id, STORED);
        let sent = AtomicUsize::new(0);
        let aborted = AtomicBool::new(false);
        let (abort, answers) = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..CLIENTS as u64)
                .map(|client| {
                    let (s, key, id, sent, aborted) = (&s, &key, &id, &sent, &aborted);
                    scope.spawn(move || {
                        let mut answers = Vec::new();
                        // New part numbers until one sent after the abort
                        // answered has been answered too.
                        for n in (STORED + 1 + client..).step_by(CLIENTS) {
                            let after_abort = aborted.load(Ordering::SeqCst);
                            let n = n.to_string();
                            let query = [("partNumber", Some(n.as_str())), ("uploadId", Some(id))];
                            let r = send(s, "PUT", &signed(s, "PUT", key, &query), b"late");
                            answers.push((r.status, r.s3_code(), after_abort));
                            sent.fetch_add(1, Ordering::SeqCst);
                            if after_abort {
                                return answers;
                            }
                        }
                        unreachable!()
                    })
                })
                .collect();
            // Parts are arriving when the abort starts.
            while sent.load(Ordering::SeqCst) < 2 * CLIENTS {
                std::thread::sleep(Duration::from_millis(1));
            }
            let url = signed(&s, "DELETE", &key, &[("uploadId", Some(&id))]);
            let abort = send(&s, "DELETE", &url, b"");
            aborted.store(true, Ordering::SeqCst);
            let answers: Vec<_> = clients
                .into_iter()
                .flat_map(|c| c.join().unwrap())
                .collect();
            (abort, answers)
        });
        assert_eq!(abort.status, 204, "round {round}: {}", abort.text());
        for (status, code, after_abort) in &answers {
            match (status, code.as_deref()) {
                (200, _) if !after_abort => {}
                (404, Some("NoSuchUpload")) => {}
                other => panic!("round {round}: a part answered {other:?}"),
            }
        }
        // Nothing of the upload: no directory, no part, no temporary file.
        assert_eq!(temporary_files(&s), Vec::<String>::new(), "round {round}");
        assert_eq!(
            std::fs::read_dir(&uploads).unwrap().count(),
            0,
            "round {round}"
        );
    }
    println!("{ABORT_ROUNDS} rounds: {:?}", started.elapsed());
}

/// Parts of [`MIN_PART`] before the small last one in
/// [`a_part_replaced_while_complete_runs_is_in_whole_or_refused`]: a
/// copy that lasts, for the last part to be replaced during it.
const BIG_PARTS: u64 = 8;

#[test]
fn a_part_replaced_while_complete_runs_is_in_whole_or_refused() {
    let started = Instant::now();
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "1073741824")]);
    let key = "replaced/x.png";
    let id = create(&s, key);
    let pattern = multipart::pattern(MIN_PART);
    let big = |n: u64| {
        let mut body = pattern.clone();
        body[..8].copy_from_slice(&n.to_le_bytes());
        body
    };
    let version = |v: usize| format!("the last part, version {v}").into_bytes();
    let last = BIG_PARTS + 1;
    let mut listed: Vec<(u64, String)> = (1..=BIG_PARTS)
        .map(|n| (n, put_part(&s, key, &id, n, &big(n))))
        .collect();
    listed.push((last, put_part(&s, key, &id, last, &version(0))));
    // The last part is replaced later each time, until complete is done
    // before the new one lands: replaced before it is copied, it is
    // refused; after, the object has the old one, the part listed.
    let mut delay = Duration::ZERO;
    let mut slowest_refusal = Duration::ZERO;
    for v in 1..=1000 {
        let (completed, took, replaced) = std::thread::scope(|scope| {
            let replacer = scope.spawn(|| {
                std::thread::sleep(delay);
                let n = last.to_string();
                let query = [("partNumber", Some(n.as_str())), ("uploadId", Some(&id))];
                send(&s, "PUT", &signed(&s, "PUT", key, &query), &version(v))
            });
            let sent = Instant::now();
            let completed = complete(&s, key, &id, &listed);
            (completed, sent.elapsed(), replacer.join().unwrap())
        });
        if completed.status == 200 {
            let mut expected: Vec<u8> = (1..=BIG_PARTS).flat_map(big).collect();
            expected.extend(version(v - 1));
            assert!(std::fs::read(s.dir.join(key)).unwrap() == expected);
            assert!([200, 404].contains(&replaced.status), "{}", replaced.text());
            assert_eq!(s.files(), [key], "nothing but the object is left");
            println!(
                "completed at try {v}, the slowest refusal {slowest_refusal:?}, {:?} in all",
                started.elapsed()
            );
            // A 40 MiB object: not left behind in target/ on every run.
            let _ = std::fs::remove_dir_all(&s.dir);
            return;
        }
        assert_eq!(completed.status, 400, "{}", completed.text());
        assert_eq!(completed.s3_code().as_deref(), Some("InvalidPart"));
        // Refused: the part was replaced, and complete left no object and
        // no temporary file, only the upload.
        assert_eq!(replaced.status, 200, "{}", replaced.text());
        assert!(!s.dir.join(key).exists());
        assert_eq!(temporary_files(&s).len(), 1 + last as usize);
        listed[BIG_PARTS as usize].1 = replaced
            .header("etag")
            .unwrap()
            .trim_matches('"')
            .to_owned();
        slowest_refusal = slowest_refusal.max(took);
        delay += Duration::from_millis(2);
    }
    panic!("complete never finished before the part was replaced");
}

/// Not a pass/fail test: prints how long storing `n` small parts of one
/// upload takes, `CLIENTS` connections at a time.
/// `cargo test --release --test multipart_parts -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_storing_parts() {
    for n in [100, 1000, 10_000] {
        let s = TestServer::start(&[]);
        let key = format!("measure/{n}.png");
        let id = create(&s, &key);
        let started = Instant::now();
        let etags = put_parts_at_once(&s, &key, &id, n);
        let took = started.elapsed();
        assert_eq!(etags.len(), n as usize);
        println!(
            "{n:>6} parts: {:>8.1} ms, {:>6.0} parts/s",
            took.as_secs_f64() * 1000.0,
            n as f64 / took.as_secs_f64()
        );
    }
}
