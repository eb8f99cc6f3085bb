# hallpulse: the `hallpulse` command (worker, simulator, topics, queries, assessment).
#   docker build -t hallpulse .
#   docker run --rm hallpulse --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# 1. The dependencies alone, from pyproject.toml with a stub package: this layer is
#    rebuilt only when pyproject.toml changes, not on every source change.
COPY pyproject.toml /app/src/
RUN mkdir -p /app/src/hallpulse \
 && touch /app/src/hallpulse/__init__.py \
 && pip install /app/src \
 && rm -rf /app/src

# 2. The package itself (see .dockerignore for what stays out of the build context).
COPY . /app/src
RUN pip install --no-deps --force-reinstall /app/src \
 && mkdir -p /app/config \
 && cp /app/src/config/*.toml /app/config/ \
 && rm -rf /app/src

# An installed package cannot find config/ beside its sources: name the files explicitly.
# KAFKA_BOOTSTRAP and CLICKHOUSE_URL come from the environment (docker-compose.yml).
ENV HALLPULSE_CONFIG=/app/config/hallpulse.toml \
    HALLPULSE__CATALOGUE_FILE=/app/config/halls.toml \
    HALLPULSE__ALERT_RULES_FILE=/app/config/alerts.toml \
    HALLPULSE__ASSESSMENT_FILE=/app/config/assessment.toml \
    HALLPULSE__LOG_FORMAT=json

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hallpulse \
 && mkdir -p /app/var \
 && chown hallpulse /app/var
USER hallpulse

# the worker's web server (HALLPULSE__WORKER__WEB_HOST=0.0.0.0 to reach it from outside)
EXPOSE 6066

ENTRYPOINT ["hallpulse"]
CMD ["--help"]
