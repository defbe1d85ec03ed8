# A CPU image of `seqcls serve` (README: Serve over HTTP). The run directory is mounted,
# not built in, so one image serves any run:
#
#   docker build -t seqcls .
#   docker run --rm -p 127.0.0.1:8000:8000 -v "$PWD/runs/banking77-latest:/model:ro" seqcls
#
# Inside the container the server listens on 0.0.0.0 so that the published port reaches
# it; on the host, publish it to 127.0.0.1 (-p 127.0.0.1:8000:8000) or put a reverse proxy
# with TLS in front.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=3

WORKDIR /app
# The dependencies first, in a layer of their own: a change to seqcls's code does not
# download TensorFlow again. (An empty package stands in for the code while they install.)
COPY pyproject.toml README.md ./
RUN mkdir seqcls && touch seqcls/__init__.py && pip install '.[serve]' \
    && pip uninstall -y seqcls && rm -rf seqcls build
COPY seqcls ./seqcls
RUN pip install --no-deps . && useradd --create-home --uid 10001 seqcls

USER seqcls
EXPOSE 8000
# /readyz answers 200 once the model is loaded and warm.
HEALTHCHECK --interval=30s --timeout=3s --start-period=90s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
# SIGTERM (docker stop) drains the requests in flight, then the server exits 0.
ENTRYPOINT ["seqcls", "serve", "/model", "--host", "0.0.0.0", "--port", "8000"]
