FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY consumers ./consumers
COPY topics ./topics
RUN pip install --no-cache-dir .
ENTRYPOINT ["seer-backfill"]
