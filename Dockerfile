# One image, two entry points: `kvsriov operator` (Deployment) and
# `kvsriov agent --node $(NODE_NAME)` (privileged DaemonSet).
FROM python:3.11-slim-bookworm

# pci.ids: the PCI ID database the node agent reads NIC model names from.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pci.ids \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kvsriov ./kvsriov
COPY operator ./operator
COPY node-agent ./node-agent
COPY crds ./crds
RUN pip install --no-cache-dir . \
 && python -m compileall -q /usr/local/lib/python3.11/site-packages

ENV KVSRIOV_CRDS_DIR=/app/crds PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["kvsriov"]
CMD ["--help"]
