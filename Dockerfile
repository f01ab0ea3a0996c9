# dashscope-emulator: a slim image serving the emulator on 0.0.0.0:8000, all state on the /data volume.
#   docker build -t dashscope-emulator .
#   docker run -p 8000:8000 -v emulator-data:/data dashscope-emulator
# Every serve option reads an EMULATOR_* variable (dashscope-emulator serve --help lists them).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The runtime dependencies exactly as locked (versions and sha256 hashes; docs/contributing-deps.md), in a layer
# of their own; then the emulator, built with the lock's setuptools and nothing resolved on its own.
COPY locks/runtime.txt ./locks/runtime.txt
RUN pip install --require-hashes --no-deps -r locks/runtime.txt
COPY pyproject.toml README.md ./
COPY emulator ./emulator
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --home-dir /app emulator \
    && mkdir -p /data \
    && chown emulator /data
COPY fixtures ./fixtures

ENV EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8000 \
    EMULATOR_DB=/data/emulator.db \
    EMULATOR_DATA_DIR=/data/files \
    EMULATOR_TIME_SCALE=60 \
    EMULATOR_LOG_LEVEL=info

USER emulator
VOLUME ["/data"]
EXPOSE 8000

# No curl in the slim image: the standard library does the check (the health endpoint needs no admin token).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('EMULATOR_PORT', '8000'), timeout=2).read()"]

ENTRYPOINT ["dashscope-emulator"]
CMD ["serve"]
