# syntax=docker/dockerfile:1
# RegionServe. GPU image (default): CUDA 13 + cuDNN 9 with onnxruntime-gpu.
# CPU image: docker build --build-arg VARIANT=cpu .
# Both install the same pinned pyproject.toml extras as `make serve` ([service] plus the
# onnxruntime build) under the same lock (constraints.txt), so the tested path and the
# container path cannot drift.
ARG VARIANT=gpu

FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04 AS gpu-base
FROM ubuntu:24.04 AS cpu-base

FROM ${VARIANT}-base AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG VARIANT
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY service ./service
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt ".[service,${VARIANT}]"

FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The CPU's file, the CUDA provider's (decomposed RoI lowering) and the self-test samples.
COPY models/region_classifier.onnx models/region_classifier.decomposed.onnx \
     models/region_classifier.samples.npz ./models/
RUN useradd --system --uid 10001 --no-create-home regionserve
USER regionserve
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REGIONSERVE_HOST=0.0.0.0 \
    REGIONSERVE_PORT=8000 \
    REGIONSERVE_MODEL_PATH=/app/models/region_classifier.onnx
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["python3", "-m", "service"]
