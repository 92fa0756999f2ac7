# syntax=docker/dockerfile:1
# Gatehouse's container image. Build:   docker build -t gatehouse:0.1.0 .
# Run (see docs/deployment.md for the settings production requires):
#   docker run --read-only --tmpfs /tmp --tmpfs /data:uid=10001,gid=10001,mode=0700 -p 3000:3000 \
#     -e GATEHOUSE_SECRET_KEY=... -e DATABASE_URL=postgres://... -e PUBLIC_URL=https://id.example.com ... gatehouse:0.1.0
# Checked by test/deploy.test.ts (non-root numeric USER, HEALTHCHECK, Node LTS base, no `latest`); not built
# on the machine that wrote it, which has no container engine.

# ---- build: install every dependency, compile, then drop the development ones ----
FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is a native module, compiled here from source against this image's Node headers
# (npm_config_nodedir), so no prebuilt binary is downloaded: node-gyp needs Python, make and a C++ compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_build_from_source=better-sqlite3 \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# Dependencies first, so this layer is reused while only the sources change. --ignore-scripts skips the
# project's own `prepare` (a build, which needs the sources copied below); the only dependencies with
# install scripts, better-sqlite3 (the native build) and esbuild, run theirs through `npm rebuild`.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3 esbuild
COPY . .
# tsc into dist/ and the console bundle into dist/web (npm run build), then remove devDependencies and
# better-sqlite3's sources and intermediate objects (only build/Release/better_sqlite3.node is loaded).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src build/deps build/Release/obj build/Release/obj.target build/Release/.deps \
      build/Release/sqlite3.a build/Release/test_extension.node \
 && cd /app \
 && npm cache clean --force

# ---- runtime: the same Node LTS, no compiler, no npm at run time, code owned by root ----
FROM node:22-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="Gatehouse" \
      org.opencontainers.image.description="Self-hosted identity and security platform: sign-in, tokens, authorization, audit." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deployment.md" \
      org.opencontainers.image.base.name="docker.io/library/node:22-bookworm-slim"
# A system user with a fixed numeric id (Kubernetes' runAsNonRoot can only verify a numeric USER). /data is
# the data directory (GATEHOUSE_DATA_DIR): the SQLite database when no DATABASE_URL is given, scheduled
# backups, the development outbox. Mount a volume (or a tmpfs with PostgreSQL) there and at /tmp: the root
# filesystem can be read-only.
RUN groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
WORKDIR /app
# Owned by root and not writable by the service user: the process cannot change its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# HOST: listen on every interface, not only loopback. TMPDIR: SQLite's temporary files and backup snapshots.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    GATEHOUSE_DATA_DIR=/data \
    TMPDIR=/tmp
USER 10001:10001
EXPOSE 3000
# Gatehouse drains on SIGTERM: readiness turns 503, in-flight requests finish (server.shutdownTimeoutMs).
STOPSIGNAL SIGTERM
# Liveness only (the process answers); orchestrators route traffic on /health/ready. No curl in the image:
# Node's own fetch asks.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node directly, not `npm start` (which would rebuild, and npm would relay signals). The CLI runs the same
# way: docker run --rm ... gatehouse:0.1.0 node bin/gatehouse.js migrate
CMD ["node", "dist/src/main.js"]
