# syntax=docker/dockerfile:1
# The relay image: a locked release build of cr-server (the page is embedded in the binary),
# run as a non-root user from a distroless base, with the database on the /data volume.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The same build command CI runs (.ci/deploy-check). The caches only speed up rebuilds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cr-server \
    && install -D -m 0755 target/release/cr-server /out/cr-server \
    && install -d -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/cr-server /usr/local/bin/cr-server
COPY --from=build --chown=65532:65532 /out/data /data
# 65532 is the distroless "nonroot" user.
USER 65532:65532
# 0.0.0.0 inside the container only; compose.yml publishes the port on the host's loopback.
ENV CR_LISTEN=0.0.0.0:7700 \
    CR_DB=/data/relay.db \
    CR_PUBLIC_URL=http://127.0.0.1:7700
VOLUME ["/data"]
EXPOSE 7700
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/cr-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cr-server"]
CMD ["serve"]
