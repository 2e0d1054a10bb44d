# One image for every EasyQuant service: Airflow components, Celery workers, monitor_api, live.
FROM node:20-bookworm-slim AS dashboard
WORKDIR /src/monitor_api/dashboard
COPY monitor_api/dashboard/ ./
RUN if [ -f package.json ]; then npm ci --no-audit --no-fund && npm run build; else mkdir -p ../static; fi

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 EASYQUANT_HOME=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY easyquant/ easyquant/
COPY monitor_api/ monitor_api/
COPY --from=dashboard /src/monitor_api/static/ monitor_api/static/
RUN pip install ".[celery]"
COPY dags/ dags/
COPY plugins/ plugins/
RUN useradd --create-home --uid 50000 easyquant && mkdir -p /data && chown easyquant /data
USER easyquant
