#!/usr/bin/env bash
# Runs on every instance at boot (instance template metadata): installs kiln, fetches
# the model repository from the bucket, starts kiln serve on all GPUs, and starts the
# Ops Agent that reports GPU utilization (the autoscaling signal).
set -euo pipefail

meta() {
  curl -fsS -H 'Metadata-Flavor: Google' \
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"
}
MODEL_URI=$(meta kiln-model-uri)
PORT=$(meta kiln-port)
KILN_PACKAGE_URI=$(meta kiln-package-uri)

# kiln and its runtime libraries, built with scripts/package (a tarball in the bucket).
mkdir -p /opt/kiln /models/default
gsutil cp "$KILN_PACKAGE_URI" /opt/kiln/kiln.tar.gz
tar -xzf /opt/kiln/kiln.tar.gz -C /opt/kiln
gsutil -m rsync -r "$MODEL_URI" /models/default

# GPU metrics for the autoscaler (agent.googleapis.com/gpu/utilization).
if ! systemctl is-active --quiet google-cloud-ops-agent; then
  curl -sSO https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh
  bash add-google-cloud-ops-agent-repo.sh --also-install
fi

cat > /etc/systemd/system/kiln-serve.service <<UNIT
[Unit]
Description=kiln model server
After=network-online.target

[Service]
Environment=LD_LIBRARY_PATH=/opt/kiln/lib
ExecStart=/opt/kiln/bin/kiln serve --model-base-path=/models/default --model-name=default --rest-api-port=${PORT} --gpus=all
Restart=always
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now kiln-serve.service
