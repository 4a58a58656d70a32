# syntax=docker/dockerfile:1
# One image for every ItemExchange process: the gateway, the three workers and the
# `itemx` operations CLI (cluster-init, migrate, ...). Which one runs is the command:
#   python -m api_gateway | python -m workers.<service>.main | itemx <subcommand>
# Configured only by environment variables at run time; no secret is baked in.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- dependencies: exactly the versions pinned in pyproject.toml, in a venv -------------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(d['project']['dependencies']))" > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --only-binary=:all: -r requirements.txt

# --- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ITEMX_ENV=production
RUN groupadd --system --gid 10001 itemx \
 && useradd --system --uid 10001 --gid itemx --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin itemx
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# The code runs from /app (not site-packages): `itemx migrate` finds sql/ next to ops/.
COPY contracts ./contracts
COPY broker ./broker
COPY api_gateway ./api_gateway
COPY workers ./workers
COPY ops ./ops
COPY sql ./sql
COPY pyproject.toml ./
RUN printf '#!/bin/sh\nexec python -m ops.cli "$@"\n' > /usr/local/bin/itemx \
 && chmod 0755 /usr/local/bin/itemx \
 && python -m compileall -q /app

# Files stay root-owned and read-only to the process.
USER 10001:10001
EXPOSE 5000 5001 5002 5003
# Without arguments it asks /health on the port of whichever process runs here;
# docker-compose.yml names the exact URL per service.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "ops.healthcheck"]
CMD ["python", "-m", "api_gateway"]
