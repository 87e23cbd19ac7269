# syntax=docker/dockerfile:1
# The operator's container image: compiled in the official Rust image, shipped on distroless
# (glibc, CA certificates, no shell, no package manager) as a non-root user.
#
#   docker build -t <registry>/aws-lb-operator:0.1.0 .
#
# The compiler is the version in Cargo.toml's rust-version; the build command is
# scripts/build-release.sh (a test keeps both true).
#
# Without a registry, the same runtime image is built FROM scratch from a binary built outside:
# scripts/package-image.sh (Dockerfile.scratch; docs/install.md).

FROM rust:1.94-bookworm AS build
WORKDIR /src
ENV CARGO_TARGET_DIR=/src/target CARGO_TERM_COLOR=never

# 1. Dependencies only: the manifests with empty crate roots, so this layer is reused until
#    Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY core/Cargo.toml core/Cargo.toml
# The dev API server (tests and scripts/dev-cluster.sh only): its manifest, never its code.
COPY tools/apiserver/Cargo.toml tools/apiserver/Cargo.toml
COPY scripts/build-release.sh scripts/build-release.sh
RUN mkdir -p src core/src core/benches tests/it tools/apiserver/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs core/src/lib.rs core/benches/translate.rs tests/it/main.rs \
    tools/apiserver/src/lib.rs tools/apiserver/src/main.rs
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    scripts/build-release.sh

# 2. The operator (touched so cargo rebuilds the crates over the stubs' artifacts).
COPY core/src core/src
COPY src src
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    touch src/main.rs src/lib.rs core/src/lib.rs \
 && scripts/build-release.sh \
 && cp target/release/aws-lb-operator /aws-lb-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /aws-lb-operator /aws-lb-operator
# distroless's nonroot user (also what the Helm chart's securityContext expects).
USER 65532:65532
# mimalloc, the binary's allocator, commits memory as it is used and returns freed pages at once
# (by default it commits its arenas eagerly: +12 MiB resident; docs/controller.md, "Watches and
# memory"). Kept equal in Dockerfile and Dockerfile.scratch; the memory benchmark runs with it.
ENV MIMALLOC_ARENA_EAGER_COMMIT=0 MIMALLOC_PURGE_DELAY=0
# /metrics, /healthz and /readyz (--metrics-bind-address).
EXPOSE 8080
ENTRYPOINT ["/aws-lb-operator"]
CMD ["run"]
