# One image for the bridge, the stream workers and the API (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY ingest ingest
COPY streams streams
COPY dispatch dispatch
COPY store store
COPY api api
COPY simulators simulators
COPY services services
COPY stack stack
COPY bench bench
COPY data data
# Editable: the code, data/ and the SQL migrations stay under /app, where the defaults look.
RUN pip install -e .
RUN useradd --create-home fieldflow
USER fieldflow
ENV FIELDFLOW_HOME=/home/fieldflow/.fieldflow
CMD ["fieldflow", "status"]
