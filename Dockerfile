# korak in a container. Settings come from the environment alone (KORAK_ENV_FILE=/dev/null: no
# .env is looked for); compose.yaml runs it with PostgreSQL and Redis, and `korak db upgrade`
# before it starts. Webhook mode: run `korak run --webhook` and publish WEBHOOK_LISTEN's port.
#   docker build -t korak .
#   docker run --rm --env-file korak.env korak korak doctor
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# `pip install .` gives a whole korak (the catalogs, the place data and the schema revisions are
# package data); the sources are not kept in the image
COPY pyproject.toml README.md /tmp/korak/
COPY bot /tmp/korak/bot
COPY dialogs /tmp/korak/dialogs
COPY storage /tmp/korak/storage
COPY locales /tmp/korak/locales
RUN pip install /tmp/korak && rm -rf /tmp/korak

# a user of its own, not root; its home holds a SQLite database when DATABASE_URL names none
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/korak --create-home \
        --shell /usr/sbin/nologin korak
USER korak
WORKDIR /var/lib/korak

ENV KORAK_ENV_FILE=/dev/null \
    LOG_FORMAT=json \
    HEALTH_PORT=8081

# /healthz on HEALTH_HOST:HEALTH_PORT (127.0.0.1:8081 by default, inside the container); set-up
# mode (no STAFF_CHAT_ID) serves none, so the container shows unhealthy until it is set
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as u; \
        h = os.environ.get('HEALTH_HOST') or '127.0.0.1'; \
        h = '127.0.0.1' if h in ('0.0.0.0', '::') else h; \
        u.urlopen('http://%s:%s/healthz' % (h, os.environ.get('HEALTH_PORT', '8081')), timeout=4)"

# SIGTERM (docker stop) ends korak within seconds; what is not done waits in the database
STOPSIGNAL SIGTERM
CMD ["korak", "run"]
