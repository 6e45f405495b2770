# RegionServe. GPU image (default): CUDA 13 + cuDNN 9 (NVIDIA driver R580 or newer on the host)
# with onnxruntime-gpu, Ubuntu 24.04's Python 3.12.
# CPU image: docker build --build-arg VARIANT=cpu -t regionserve:cpu .  (Debian 12, Python 3.11,
# the tests' Python). Both install the [service] extra and the onnxruntime build under the lock
# (constraints.txt) that `make serve` and `make test` install, transitive packages included.
# The bases are build arguments: `make image-test` builds this file unchanged on a Debian
# bookworm minbase made locally. pip's configuration and CA bundle, when the network needs them,
# reach the install as build secrets (never a layer):
#   docker build --secret id=pip_conf,src=pip.conf --secret id=ca_bundle,src=ca.crt ...
ARG VARIANT=gpu
ARG GPU_BASE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
ARG CPU_BASE=debian:bookworm-slim

FROM ${GPU_BASE} AS gpu-base
FROM ${CPU_BASE} AS cpu-base

FROM ${VARIANT}-base AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, read from pyproject.toml's extras: a code edit does not reinstall them.
FROM base AS build
ARG VARIANT
# pywuffs is published as source only: the build stage compiles it, the runtime has no compiler.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ python3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt build-constraints.txt ./
RUN --mount=type=secret,id=pip_conf --mount=type=secret,id=ca_bundle \
    export PIP_CONFIG_FILE=/run/secrets/pip_conf PIP_NO_CACHE_DIR=1 \
    && if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m venv /opt/venv \
    && python3 -c "import sys, tomllib; extras = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print('\n'.join(extras['service'] + extras[sys.argv[1]]))" \
       "${VARIANT}" > requirements.txt \
    && /opt/venv/bin/pip install --quiet --disable-pip-version-check pip==25.3 \
    && /opt/venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt \
       --build-constraint build-constraints.txt -r requirements.txt

FROM base AS runtime
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/regionserve regionserve
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The CPU's file, the CUDA provider's (decomposed RoI lowering) and the self-test samples.
COPY models/region_classifier.onnx models/region_classifier.decomposed.onnx \
     models/region_classifier.samples.npz ./models/
COPY service ./service
COPY regionserve_contract ./regionserve_contract
# Compiled here, so a read-only root filesystem costs nothing at start.
RUN python3 -m compileall -q service regionserve_contract
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/regionserve \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REGIONSERVE_HOST=0.0.0.0 \
    REGIONSERVE_PORT=8000 \
    REGIONSERVE_MODEL_PATH=/app/models/region_classifier.onnx
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/readyz' % os.environ['REGIONSERVE_PORT'], timeout=2)"]
CMD ["python3", "-m", "service"]
