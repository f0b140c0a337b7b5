# The hub worker image used by docker-compose.yml (users with a Docker engine).
FROM python:3.11-slim
WORKDIR /opt/hub
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY ops ./ops
RUN pip install --no-cache-dir -e . \
    && useradd --create-home hub
USER hub
ENV HUB_STATE_DIR=/home/hub/state \
    HUB_WORKER_WEB_HOST=0.0.0.0
EXPOSE 6066
ENTRYPOINT ["hub"]
CMD ["worker", "--loglevel", "warning"]
