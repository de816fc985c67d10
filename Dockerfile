# syntax=docker/dockerfile:1
# Build stage: install the service and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/venv/bin/pip install .

# Runtime stage: the virtual environment, the migrations, and nothing else; not root.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --home-dir /srv/pta --create-home pta
WORKDIR /srv/pta
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/alembic.ini /srv/pta/alembic.ini
COPY --from=build /src/migrations /srv/pta/migrations
USER pta
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# Configuration comes only from the environment (PTA_DATABASE_URL, PTA_SECRET_KEY, ...).
# `pta serve` migrates the database to the newest schema, then serves.
CMD ["pta", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
