# ngi-consent: multi-stage build, small non-root runtime, configuration from the environment.
# Build:  docker build -t ngi-consent .
# Demo:   docker run -p 3000:3000 -p 3001:3001 ngi-consent   (then open http://127.0.0.1:3000)
# Run:    docker run -p 3000:3000 -e PUBLIC_URL=https://lan.example.no -e NGI_ENV=preprod \
#           -e NGI_CLIENT_ID=... -e NGI_CLIENT_SECRET_FILE=/run/secrets/ngi \
#           -v ngi-data:/app/data ngi-consent   (or -e DATABASE_URL_FILE=... for PostgreSQL)

FROM rust:1.95-slim-bookworm AS build
WORKDIR /app
# Dependencies first, in their own layer: rebuilt only when Cargo.toml or Cargo.lock change.
# Both builds strip the binary (the same profile, so the second reuses the first's dependencies).
COPY Cargo.toml Cargo.lock ./
COPY simulator/Cargo.toml simulator/Cargo.toml
# The C flags of SQLite's build (the extensions the ledger leaves out).
COPY .cargo .cargo
# (The test and bench targets Cargo.toml declares get empty stand-ins: cargo wants their files.)
RUN mkdir -p src benches/load tests/browser tests/logs simulator/src && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs simulator/src/lib.rs \
    && touch benches/load/main.rs tests/logs/main.rs tests/browser/main.rs \
    && cargo build --release --locked --config profile.release.strip=true \
    && rm -rf src simulator/src
# askama compiles the templates into the binary, so they are needed here and not at run time.
COPY src src
COPY templates templates
# The NGI simulator, a crate of its own with its templates and fixtures.
COPY simulator simulator
# The consent ledger's migrations are compiled into the binary (src/ledger/migrations.rs).
COPY migrations migrations
RUN touch src/main.rs src/lib.rs simulator/src/lib.rs \
    && cargo build --release --locked --config profile.release.strip=true \
    && mkdir -p /app/data-empty

# glibc and CA certificates only; no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /app/target/release/ngi-consent /app/ngi-consent
COPY static /app/static
# The SQLite consent ledger's directory, writable by the non-root user (distroless has no shell
# to mkdir/chown with). Mount a volume here to keep the ledger, or use DATABASE_URL.
COPY --from=build --chown=nonroot:nonroot /app/data-empty /app/data
# Listening beyond loopback, the simulator only runs when asked for by name: the image is a demo
# (with its banner) until NGI_ENV=preprod or prod is given. SIMULATOR_BIND only counts in the demo.
ENV APP_BIND=0.0.0.0:3000 \
    NGI_ENV=simulator \
    SIMULATOR_BIND=0.0.0.0:3001 \
    LOG_FORMAT=json \
    DATA_DIR=/app/data
EXPOSE 3000 3001
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/ngi-consent", "healthcheck"]
ENTRYPOINT ["/app/ngi-consent"]
