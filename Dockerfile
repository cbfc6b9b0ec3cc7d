# clinic-api container image.
#
#   docker build -t clinic-api .
#   docker run --rm -p 8080:8080 -v clinic-data:/var/lib/clinic-api clinic-api
#
# Database migrations are applied by the server itself at start-up (they are
# embedded in the binary at compile time by diesel_migrations), so there is no
# separate migration step: `serve` migrates SQLite or PostgreSQL, then listens.
# For PostgreSQL, set DATABASE_URL=postgres://user:password@host/db at run time.
#
# Lint with: bash ci/lint-dockerfile.sh

############################################################################
# Builder
############################################################################
FROM rust:1.95-slim-bookworm AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# libpq-dev + pkg-config: diesel's postgres backend links libpq (pq-sys).
# SQLite is bundled (libsqlite3-sys "bundled") and compiled with the gcc that
# the rust image already ships.
# Package versions are deliberately not pinned (hadolint DL3008): bookworm
# point/security releases remove superseded versions from the mirrors, so a
# pinned version would break the build; the base image tag is pinned instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# 1) Dependencies only: build the dependency graph against a dummy lib + bin,
#    so this layer is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src \
        target/release/clinic-api* \
        target/release/deps/clinic_api-* \
        target/release/deps/libclinic_api-* \
        target/release/.fingerprint/clinic-api-*

# 2) The crate itself. migrations/ and web/ must be present: embed_migrations!
#    and the booking page's include_bytes! read them at compile time.
#    openapi/ holds the committed contract.
COPY src ./src
COPY migrations ./migrations
COPY openapi ./openapi
COPY web ./web
# touch: make sure cargo never mistakes the real sources for the dummy ones.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && ./target/release/clinic-api --help > /dev/null

############################################################################
# Runtime
############################################################################
FROM debian:bookworm-slim AS runtime

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# libpq5: the PostgreSQL client library the binary links against.
# ca-certificates: system roots for outgoing TLS (Stripe, PostgreSQL over TLS).
# Not version-pinned, for the reason given in the builder stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged system user owning the data directory (SQLite file lives here).
# -l (--no-log-init) avoids a huge sparse /var/log/faillog for a high UID.
RUN groupadd --system --gid 10001 clinic \
    && useradd --system --no-log-init --uid 10001 --gid clinic \
        --home-dir /var/lib/clinic-api --shell /usr/sbin/nologin clinic \
    && install -d -o clinic -g clinic -m 0750 /var/lib/clinic-api

COPY --from=builder /build/target/release/clinic-api /usr/local/bin/clinic-api

ENV BIND_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/clinic-api/clinic.db \
    LOG_FORMAT=json

# Numeric UID:GID so orchestrators (Kubernetes runAsNonRoot) can verify it.
USER 10001:10001
WORKDIR /var/lib/clinic-api

EXPOSE 8080
VOLUME ["/var/lib/clinic-api"]

# `clinic-api healthcheck` GETs /health/ready on BIND_ADDR and exits 0 or 1,
# so the image needs no curl/wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["clinic-api", "healthcheck"]

# `serve` applies pending migrations, then starts the API.
ENTRYPOINT ["clinic-api"]
CMD ["serve"]
