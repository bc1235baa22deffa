# A from-scratch image: one statically linked binary and a data volume,
# nothing else (no shell, no libc, no /etc, no CA certificates: the server
# makes no TLS connection). tests/container/chroot.sh runs the same binary
# the same way (an empty root, uid 65534) in CI.
#
#   docker build -t presign .
#   docker run -p 3000:3000 presign                      # local bucket in the /data volume
#   docker run -p 3000:3000 -e S3_BUCKET_NAME=my-bucket -e AWS_REGION=eu-west-1 \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY presign
#
# Health: GET /healthz answers 200 "ok" (no HEALTHCHECK here: a scratch
# image has no curl to run one; orchestrators probe over HTTP, see README).

FROM rust:1-bookworm AS build
WORKDIR /src
# The manifest names benches/ (a bench and an example): they must exist.
COPY Cargo.toml Cargo.lock README.md ./
COPY src src
COPY static static
COPY benches benches
# glibc linked in statically (the target is spelled out so that the flag
# does not reach build scripts). The binary then reads no file at start:
# no locale, no resolver configuration, and without /dev/urandom its
# random seeds come from the getrandom system call (src/server/keys.rs).
RUN target="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --bin presign --target "$target" \
 && cp "target/$target/release/presign" /presign \
 && mkdir /data

FROM scratch
COPY --from=build /presign /presign
# The local bucket's directory, owned by the user the server runs as.
COPY --from=build --chown=65534:65534 /data /data
# nobody:nogroup by number: a scratch image has no /etc/passwd to name it.
USER 65534:65534
ENV HOST=0.0.0.0 \
    PORT=3000 \
    LOCAL_BUCKET_DIR=/data
EXPOSE 3000
VOLUME ["/data"]
ENTRYPOINT ["/presign"]
CMD ["serve"]
