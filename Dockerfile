# syntax=docker/dockerfile:1
# The PTA case service. Configuration comes only from the environment (PTA_DATABASE_URL,
# PTA_SECRET_KEY, ...: see docs/deployment.md); nothing secret is baked into the image.
#
#   docker build -t pta-case-service .
#   docker run -p 127.0.0.1:8000:8000 --stop-timeout 30 \
#     -e PTA_DATABASE_URL=postgresql://pta_app:...@db/pta -e PTA_SECRET_KEY=... pta-case-service
#
# Without PTA_DATABASE_URL it keeps an SQLite file in /srv/pta/data (mount a volume there).
# With PostgreSQL on a laptop in one command: `docker compose up` (compose.yaml).

# Build stage: install the service and its dependencies into a virtual environment.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-cache-dir .

# Runtime stage: the virtual environment, the migrations, and nothing else; not root.
FROM python:3.11-slim-bookworm AS runtime
# PTA_HOST/PTA_PORT: where `pta serve` listens (and what the health check asks). Without
# PTA_DATABASE_URL the SQLite file (./pta.db) and its key land in the working directory, the
# data directory prepared below; the migrations are found through PTA_MIGRATIONS_DIR.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PTA_HOST=0.0.0.0 PTA_PORT=8000 PTA_MIGRATIONS_DIR=/srv/pta/migrations
RUN useradd --system --uid 10001 --user-group --home-dir /srv/pta --create-home pta \
 && mkdir /srv/pta/data && chown 10001:10001 /srv/pta/data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/alembic.ini /srv/pta/alembic.ini
COPY --from=build /src/migrations /srv/pta/migrations
WORKDIR /srv/pta/data
VOLUME ["/srv/pta/data"]
# Numeric, so that Kubernetes' runAsNonRoot can check it is not root.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PTA_PORT', '8000')}/healthz\", timeout=2).status != 200)"]
# SIGTERM (docker stop) lets requests in flight finish for up to 20 s: give the container
# --stop-timeout 30 (compose: stop_grace_period: 30s), or docker kills it after 10 s.
STOPSIGNAL SIGTERM
# `pta serve` migrates the database to the newest schema, then serves on PTA_HOST:PTA_PORT
# (exec form: the server is PID 1 and receives the signals itself).
CMD ["pta", "serve", "--workers", "2"]
