# syntax=docker/dockerfile:1
# Build: docker build -t papertrader .
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p papertrader

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/papertrader --create-home papertrader
COPY --from=build /src/target/release/papertrader /usr/local/bin/papertrader
COPY deploy/provision.sh /usr/local/bin/papertrader-provision
USER papertrader
WORKDIR /var/lib/papertrader
ENTRYPOINT ["papertrader"]
CMD ["--help"]
