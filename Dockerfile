# ld-tower's container image: the `ld-tower` binary alone on a distroless
# base (glibc, libgcc; no shell, no package manager), running as the
# numeric non-root user 65532. Build from the repository's root:
#
#   docker build -t ld-tower:0.1.0 .
#
# The default command serves the control socket on every IPv4 interface,
# framed, on port 9940. It refuses to start without authentication on a
# non-loopback address, so give it a token (env LOAD_DENSITY_SOCKET_TOKEN)
# or client certificates; deploy/kubernetes/ passes both the token (from a
# Secret) and the TLS flags (files from a Secret).

# Builder: glibc, the toolchain of the workspace's rust-version (1.89) or
# later. aws-lc-sys and rusqlite's bundled SQLite are compiled with the
# image's C compiler; no cmake, no protoc are needed.
FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ld-tower \
 && install -D -m 0755 target/release/ld-tower /out/ld-tower

# Runtime: distroless "cc" (glibc and libgcc_s, what a Rust binary links
# dynamically), its nonroot variant (user 65532, home /home/nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ld-tower /usr/local/bin/ld-tower
USER 65532:65532
# Report, action-file and database paths given by clients stay below the
# working directory (README: "Confined paths"); a volume belongs here.
WORKDIR /home/nonroot
EXPOSE 9940
# checkov:skip=CKV_DOCKER_2: no shell in the image to run a health command, and the control socket needs the token to answer; orchestrators probe the TCP port instead (deploy/kubernetes: tcpSocket readiness and liveness probes)
ENTRYPOINT ["ld-tower"]
CMD ["serve", "--host", "0.0.0.0", "--port", "9940", "--framed"]
