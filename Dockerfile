# One image for every Newswire service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY workers ./workers
COPY schemas ./schemas
COPY scripts ./scripts
COPY seeds ./seeds
RUN pip install -e ".[flower]" \
    && useradd --system --home /app newswire \
    && mkdir -p /app/.newswire && chown newswire /app/.newswire
USER newswire

CMD ["newswire", "--help"]
