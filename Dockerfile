# ModelLab lip-sync service for a CUDA host: docker run --gpus all -p 8000:8000 modellab
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/modellab
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt scripts/prune_runtime.sh ./
# On a GPU host the torch==2.13.0 pin resolves to PyPI's CUDA build. As scripts/venv.sh does:
# no .pyc for every module, and none of torch's headers and tests.
RUN pip install --no-compile -r requirements.txt && bash prune_runtime.sh && rm prune_runtime.sh
COPY app ./app

# Weights baked into the image (docs/operations.md#weights): --build-arg FETCH_WEIGHTS="model4", or
# "all"; Wav2Lip's non-commercial terms also need --build-arg ACCEPT_LICENCE=yes. HF_ENDPOINT picks a
# mirror. Before VOLUME: what a build step writes into a declared volume is discarded.
ARG FETCH_WEIGHTS=""
ARG ACCEPT_LICENCE=""
ARG HF_ENDPOINT
RUN if [ -n "$FETCH_WEIGHTS" ]; then \
        WEIGHTS_DIR=/weights python -m app.weights fetch $FETCH_WEIGHTS ${ACCEPT_LICENCE:+--accept-licence} \
        && WEIGHTS_DIR=/weights python -m app.weights verify $FETCH_WEIGHTS; \
    fi

# A container's port is only reached through what `docker run -p` publishes: listen on all of its
# interfaces (python -m app.server defaults to 127.0.0.1).
ENV UPLOAD_DIR=/data/uploads WEIGHTS_DIR=/weights DEVICE=auto HOST=0.0.0.0 PORT=8000
VOLUME ["/data", "/weights"]
EXPOSE 8000
RUN useradd --create-home modellab && mkdir -p /data/uploads && chown -R modellab /data
USER modellab
CMD ["python", "-m", "app.server"]
