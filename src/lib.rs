//! # presign
//!
//! Browser uploads straight to Amazon S3 (or any S3-compatible store) through
//! pre-signed URLs. The server signs a short-lived URL; the browser PUTs the
//! file to the bucket. Image bytes and credentials never cross the server.
//!
//! ## Map
//!
//! * [`sigv4`]: AWS Signature Version 4, hand-written and pure: canonical
//!   request, string to sign, signing key (cached per day), header and query
//!   signing, and verification of presigned requests; browser POST
//!   policies, signed and verified. No I/O, no clock.
//! * [`s3`]: buckets and objects on top of `sigv4`: endpoints, virtual-hosted
//!   and path-style addressing, key encoding, presigned object requests,
//!   browser POST forms and a streaming reader of their bodies.
//! * `latest`: a cache of one value for the latest key, shared by the
//!   signer (the day's signing key) and the server (the local bucket).
//! * `server` (feature `server`, on by default): the hyper service: the
//!   upload API (one file, batches, and multipart uploads kept to what an
//!   HMAC upload ticket allows), the embedded page, configuration, the AWS credential chain
//!   (environment, profile, container endpoint, EC2 instance metadata) shared
//!   with the command line, Prometheus metrics, and the local bucket
//!   (multipart included) that
//!   makes the server work with no configuration at all.
//!
//! Data flows one way: `server` turns an upload request into an
//! [`s3::ObjectRequest`], [`s3::Bucket`] turns that into a [`sigv4::Request`],
//! and [`sigv4::Signer`] returns the signed query string.
//!
//! Built with `default-features = false`, this crate is a sans-IO SigV4
//! library that depends only on `hmac`, `sha2`, `hex`, `time` and
//! `percent-encoding`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod latest;
pub mod s3;
#[cfg(feature = "server")]
pub mod server;
pub mod sigv4;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
