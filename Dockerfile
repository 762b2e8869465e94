# A small image that runs checkout-bot as a non-root user, with its database on the /data volume.
# The base image is pinned to a patch release; pin it by digest where you build, as the README
# says ("Deploy"): docker buildx imagetools inspect python:3.12.8-slim-bookworm
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# Exactly the versions and files of requirements.lock (hashes checked), then the bot alone.
COPY requirements.lock ./
RUN pip install --no-cache-dir --prefix=/install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY webhooks ./webhooks
COPY storage ./storage
# The emulators: `checkout-bot demo` runs the shop against them.
COPY sandbox ./sandbox
# --no-deps: nothing beyond the lock file (setuptools, the build backend, is not installed).
RUN pip install --no-cache-dir --prefix=/install --no-deps .

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/shop.db \
    CATALOG_FILE=/app/catalog.toml \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin shop \
    && mkdir -p /app /data && chown shop:shop /data && chmod 0700 /data
WORKDIR /app
COPY catalog.toml /app/catalog.toml
USER shop
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HTTP_PORT\", \"8080\")}/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["checkout-bot"]
