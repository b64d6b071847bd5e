# ActionFlow: one bot instance. Build: docker build -t actionflow .   Run: see compose.yaml.
FROM python:3.11-slim-bookworm

# A Chinese font for PDF reports; ffmpeg-free (audio decodes through PyAV's bundled libraries).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig curl \
 && rm -rf /var/lib/apt/lists/*

COPY . /src
# The same script a test runs in a fresh virtualenv (tests/ops/test_install.py).
RUN /src/scripts/install.sh /opt/actionflow /src && rm -rf /src \
 && /opt/actionflow/bin/actionflow speech install-model --dest /opt/models/whisper-base

RUN useradd --system --home /var/lib/actionflow --create-home actionflow
USER actionflow
WORKDIR /var/lib/actionflow
ENV PATH=/opt/actionflow/bin:$PATH \
    ACTIONFLOW_HOME=/var/lib/actionflow \
    ACTIONFLOW_CONFIG=/var/lib/actionflow/actionflow.toml \
    ACTIONFLOW_WEB__LISTEN=0.0.0.0:8090 \
    ACTIONFLOW_SPEECH__MODELS_DIR=/opt/models \
    PYTHONUNBUFFERED=1

# WeCom callbacks (wecom.listen) and the web server (/healthz, /metrics, the board).
EXPOSE 8080 8090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8090/healthz >/dev/null || exit 1

# First start: `docker compose run --rm bot actionflow init /var/lib/actionflow` writes the config.
CMD ["actionflow", "run"]
