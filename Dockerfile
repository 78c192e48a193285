# syntax=docker/dockerfile:1

# The aggregator image. One build, two runnable targets that differ only in CMD and HEALTHCHECK:
#
#   docker build --target api -t aggregator-api .        # node <V8 flags> api/dist/main.js (default)
#   docker build --target worker -t aggregator-worker .  # node worker/dist/main.js
#
# Separate targets rather than one image guessing its role: each image's HEALTHCHECK checks the
# process it actually runs (an API answers GET /healthz on its port; a worker has no port, so its
# check looks for its fresh heartbeat in Redis), see deploy/healthcheck.mjs. The layers below the
# targets are shared, so the second target costs nothing to build. The `runtime` stage (no CMD)
# also runs the load tools in load/dist (the `publisher` service of docker-compose.yml).
#
# Configuration is the environment, as outside Docker (README, "Configuration"); REDIS_URL is
# needed, SQLITE_PATH defaults to /data/aggregator.db (mount a volume on /data); or set DATABASE_URL
# to a postgres:// URL and mount nothing (docs/postgres.md).

# A pinned release, so a rebuild gets the Node the image was tested with; move it on deliberately
# (test/compose.test.ts checks that every image is pinned).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- toolchain: compilers for native addons (better-sqlite3), and every manifest -------------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# npm ci checks the lockfile against every workspace of the root package.json, so all their
# manifests must be here, also those whose code the image does not ship (test).
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY store/package.json store/
COPY api/package.json api/
COPY worker/package.json worker/
COPY client/package.json client/
COPY stack/package.json stack/
COPY load/package.json load/
COPY test/package.json test/

# ---- build: all dependencies, TypeScript compiled to each package's dist/ -------------------
FROM toolchain AS build
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json lerna.json ./
COPY common/ common/
COPY store/ store/
COPY api/ api/
COPY worker/ worker/
COPY client/ client/
# The load tools' benchmark builds against the local stack's package; the image ships neither
# the stack nor the benchmark's use of it (only load/dist/publishCli.js runs here).
COPY stack/ stack/
COPY load/ load/
# lerna runs on nx: no daemon and no cloud inside a build.
RUN NX_DAEMON=false NX_NO_CLOUD=true npm run build

# ---- prod-deps: production dependencies only, native addons built for this base image -------
FROM toolchain AS prod-deps
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# ---- runtime: no compilers, no dev dependencies, no sources -----------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node (whose graceful shutdown then runs) and reaps
# zombies. Node as PID 1 would get no default signal handlers from the kernel.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
  SQLITE_PATH=/data/aggregator.db \
  HOST=0.0.0.0
WORKDIR /app
# node_modules and the manifests (workspace links in node_modules/@aggregator point at them),
# then the compiled code. Everything stays owned by root: the app cannot change its own code.
COPY --from=prod-deps /app ./
COPY --from=build /app/common/dist common/dist
COPY --from=build /app/store/dist store/dist
COPY --from=build /app/api/dist api/dist
# The status page's styles: the API reads them at start-up, beside its compiled script in api/dist
# (STATUS_PAGE_ASSETS in api/src/operations/statusPage/statusPage.ts).
COPY --from=build /app/api/src/operations/statusPage/statusPage.css api/src/operations/statusPage/statusPage.css
COPY --from=build /app/worker/dist worker/dist
# The load tools publish through the client.
COPY --from=build /app/client/dist client/dist
COPY --from=build /app/load/dist load/dist
COPY deploy/healthcheck.mjs deploy/healthcheck.mjs
# A new named volume mounted on /data copies this directory's owner, so the worker, running
# as `node`, can create the SQLite file and its -wal/-shm files there.
RUN mkdir -p /data && chown node:node /data
# `node` (uid 1000) of the base image; numeric, so `runAsNonRoot` checks can verify it.
USER 1000:1000
ENTRYPOINT ["/usr/bin/tini", "--"]

# ---- worker ---------------------------------------------------------------------------------
FROM runtime AS worker
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs", "worker"]
CMD ["node", "worker/dist/main.js"]

# ---- api (last, so a plain `docker build .` gives the API) -----------------------------------
FROM runtime AS api
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "deploy/healthcheck.mjs", "api"]
# The same V8 flags as API_NODE_FLAGS in api/src/nodeFlags.ts: they hold the API's peak RSS
# at about 125–130 MB instead of 150–177 MB, for a few per cent more CPU (README, "Memory").
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "api/dist/main.js"]
