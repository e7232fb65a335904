# syntax=docker/dockerfile:1
# salesbot's image: one binary for the web service (`serve`), the worker (`work`) and the release
# step (`migrate`). Multi-stage: the dependencies are compiled in a layer of their own (cargo-chef),
# rebuilt only when Cargo.toml/Cargo.lock change; the runtime image holds the binary and CA
# certificates, no build tools, and runs as a non-root user. Queries are checked against the
# committed .sqlx/ data (SQLX_OFFLINE): no database is needed to build.

FROM rust:1.95.0-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ENV SQLX_OFFLINE=true
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin salesbot

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin salesbot
COPY --from=builder /app/target/release/salesbot /usr/local/bin/salesbot
USER 10001:10001
ENV HOST=0.0.0.0 PORT=8000 LOG_FORMAT=json
EXPOSE 8000
# A command, not an entrypoint: Render's dockerCommand and preDeployCommand (render.yaml) replace it
# whole (`salesbot work --no-migrate`, `salesbot migrate`).
CMD ["salesbot", "serve", "--no-migrate"]
