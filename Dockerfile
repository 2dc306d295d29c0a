# Tessera: the feature server and the write-behind writer, one image.
#
#   docker build -t tessera .
#   docker run --rm tessera --help
#
# The build stage makes the production bundle with scripts/bundle.mjs, the same script CI tests
# (test/deploy/bundle.test.ts); the runtime stage holds only that bundle and Node: no pnpm, no
# compiler, no sources, no dev dependencies. The lockfile holds chDB's engine for linux-x64 only, so
# build for linux/amd64 (`docker build --platform linux/amd64`; bundle.mjs fails without the engine).
#
# The base is node:20-bookworm-slim (Node 20.20.2, Debian 12) pinned by the digest of its multi-arch
# index; bump the digest deliberately (docker buildx imagetools inspect node:20-bookworm-slim).
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
ENV CI=true
WORKDIR /src
# The lockfile alone fills pnpm's store, a layer that is kept while the lockfile stays the same. The
# partial node_modules that `fetch` leaves would pass for a finished install: only the store is kept.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN npx --yes pnpm@10.34.9 fetch && rm -rf node_modules
COPY . .
# Installs (frozen lockfile), compiles and deploys the production dependencies into dist/bundle.
RUN node scripts/bundle.mjs --out /src/dist/bundle

FROM ${NODE_IMAGE} AS runtime
# A user of its own with a fixed number, so `runAsNonRoot` can verify it; it owns only /data.
RUN groupadd --system --gid 10001 tessera \
  && useradd --system --uid 10001 --gid tessera --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin tessera \
  && mkdir /data \
  && chown 10001:10001 /data
ENV NODE_ENV=production
# A larger young generation: fewer scavenges per request under load (bench/README.md, online-load:
# 12–24 % less server CPU per online read in three of four interleaved runs). Override NODE_OPTIONS to drop it.
ENV NODE_OPTIONS=--max-semi-space-size=32
WORKDIR /app
# Owned by root and not writable by the user: the code cannot be changed at run time.
COPY --from=build /src/dist/bundle /app
# The relative defaults (embedded data in ./.tessera, the writer's chDB in ./.tessera/writer) land on
# /data, so the root filesystem can be read-only: mount a volume on /data (and an emptyDir on /tmp).
# A link rather than TESSERA_* variables, which would outrank a configuration file's data directory.
RUN ln -s /data /app/.tessera
USER 10001:10001
# gRPC (server.port) and Prometheus metrics (metrics.port), the defaults of the configuration.
EXPOSE 6566 9464
ENTRYPOINT ["node", "/app/packages/cli/bin/tessera.js"]
CMD ["serve"]
