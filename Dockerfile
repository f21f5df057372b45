# The PaperTrader image: the `papertrader` binary on Debian bookworm, run as uid 10001.
#
# Where the binary comes from is chosen by the BINARIES build argument; the runtime stage
# below is the same either way:
#   BINARIES=source (default)  compiled inside RUST_IMAGE (needs a registry for rust:1-bookworm):
#                                docker build -t papertrader .
#   BINARIES=host              copied from target/release/papertrader built on this machine
#                              (`cargo build --release --locked -p papertrader` on Debian
#                              bookworm or another glibc >= 2.36 system):
#                                DOCKER_BUILDKIT=1 docker build --build-arg BINARIES=host -t papertrader .
# Build with BuildKit (Docker >= 23 does by default; DOCKER_BUILDKIT=1 on 20.10): it builds only
# the stages the result needs, so BINARIES=host never touches RUST_IMAGE. The classic builder
# builds every stage. No `# syntax=` line on purpose: it would make BuildKit fetch a frontend
# image, which fails without a registry.
# BASE_IMAGE and RUST_IMAGE replace the public images; tests/compose/compose-test.sh builds with
# a local stand-in for debian:bookworm-slim.
ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1-bookworm
ARG BINARIES=source

FROM ${RUST_IMAGE} AS source
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p papertrader \
    && install -D target/release/papertrader /out/papertrader

FROM scratch AS host
COPY target/release/papertrader /out/papertrader

FROM ${BINARIES} AS binaries

FROM ${BASE_IMAGE} AS runtime
# /master, /master-public, /worker, /ca, /tls, /tls-master and /tls-worker are where
# docker-compose.yml mounts its volumes: a fresh
# named volume takes the owner and mode of the directory it is mounted on, so they must exist
# here and belong to the user the servers run as.
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/papertrader --create-home papertrader \
    && install -d -o papertrader -g papertrader -m 0700 /master /worker /ca /tls /tls-master /tls-worker \
    && install -d -o papertrader -g papertrader -m 0755 /master-public
COPY --from=binaries /out/papertrader /usr/local/bin/papertrader
COPY deploy/provision.sh /usr/local/bin/papertrader-provision
COPY deploy/certs.sh /usr/local/bin/papertrader-certs
USER papertrader
WORKDIR /var/lib/papertrader
ENTRYPOINT ["papertrader"]
CMD ["--help"]
