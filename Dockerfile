# syntax=docker/dockerfile:1.7
# One image recipe for every app; APP picks which (ingest, worker or messenger-sandbox). Build from the
# repository root (the whole workspace is the context):
#   docker build --build-arg APP=worker -t renotify/worker .
#   docker build --target migrate -t renotify/migrate .
# Stages: base (Node + pnpm via corepack) -> build (full workspace installed, the app compiled) -> deploy (pruned
# production bundle from `pnpm deploy`) -> app-<APP> (slim, non-root, tini as PID 1; its port and health check)
# -> runtime (the default target: the app-<APP> stage chosen by the build arg).

# Which app the image runs: a workspace package under apps/ (its package name is @renotify/<APP>).
ARG APP=ingest
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
# PNPM_HOME/store is pnpm's store dir; it is a BuildKit cache mount, never part of a layer.
ENV PNPM_HOME=/pnpm \
    COREPACK_HOME=/opt/corepack \
    COREPACK_ENABLE_DOWNLOAD_PROMPT=0 \
    CI=true \
    TURBO_TELEMETRY_DISABLED=1 \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
WORKDIR /repo
COPY package.json ./
# corepack installs exactly the pnpm named by package.json#packageManager; COREPACK_HOME is made
# world-readable so the non-root migrate target can run pnpm too.
RUN corepack enable && corepack install && chmod -R a+rX /opt/corepack

FROM base AS build
# Download every locked package from the lockfile alone: this layer survives source edits.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN --mount=type=cache,id=renotify-pnpm-store,target=/pnpm/store pnpm fetch
COPY . .
RUN --mount=type=cache,id=renotify-pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --prefer-offline
# prisma generate only needs a syntactically valid URL; nothing connects at build time.
RUN DATABASE_URL=postgresql://build@localhost:5432/renotify pnpm exec prisma generate
# Builds the app and its production workspace dependencies in topological order. --filter-prod (not
# `turbo --filter=...`) leaves out devDependencies such as @renotify/testing, which the image never runs.
ARG APP
RUN pnpm --filter-prod="@renotify/${APP}..." run build

# One-shot schema migration (docker-compose service `migrate`, k8s Job), whatever APP is. It needs the Prisma
# CLI and root devDependencies, so it runs from the full workspace rather than the slim runtime.
FROM build AS migrate
ENV NODE_ENV=production
# The Prisma CLI compiles prisma.config.ts and may cache it under node_modules/.cache.
RUN mkdir -p node_modules/.cache && chown node:node node_modules/.cache
USER node
CMD ["pnpm", "db:migrate"]

FROM build AS deploy
ARG APP
# --legacy: the workspace does not set inject-workspace-packages. Workspace dependencies are copied
# with their built dist/ (none has its own .gitignore; a "files" field, where present, lists dist).
RUN --mount=type=cache,id=renotify-pnpm-store,target=/pnpm/store \
    pnpm --filter=@renotify/${APP} deploy --prod --legacy /out \
 && rm -rf /out/.turbo /out/vitest.config.ts

FROM ${NODE_IMAGE} AS runtime-base
# tini is PID 1: it forwards SIGTERM to node (which drains, see SHUTDOWN_TIMEOUT_MS) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, read-only for the app user.
COPY --from=deploy /out ./
COPY docker/healthcheck.mjs /usr/local/lib/renotify/healthcheck.mjs
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]

# What differs per app: where it listens and what the health check asks. Only the stage APP names is built.
FROM runtime-base AS app-ingest
ENV INGEST_HOST=0.0.0.0 \
    INGEST_PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/usr/local/lib/renotify/healthcheck.mjs", "INGEST_PORT", "3000", "/healthz"]

FROM runtime-base AS app-worker
ENV WORKER_HOST=0.0.0.0 \
    WORKER_PORT=3001
EXPOSE 3001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/usr/local/lib/renotify/healthcheck.mjs", "WORKER_PORT", "3001", "/healthz"]

FROM runtime-base AS app-messenger-sandbox
ENV SANDBOX_HOST=0.0.0.0 \
    SANDBOX_PORT=3100
EXPOSE 3100
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/usr/local/lib/renotify/healthcheck.mjs", "SANDBOX_PORT", "3100", "/healthz"]

FROM app-${APP} AS runtime
