#!/usr/bin/env bash
# The instance template: GPU type and count, boot disk, and the startup script that
# installs kiln, fetches the model and starts the server.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
parse_common_args "$@"
require_gcloud

run gcloud compute instance-templates create "${KILN_NAME}-template" \
  "$(gcloud_project_flag)" \
  --machine-type="$KILN_MACHINE_TYPE" \
  --accelerator="type=${KILN_GPU_TYPE},count=${KILN_GPU_COUNT}" \
  --maintenance-policy=TERMINATE \
  --boot-disk-size="$KILN_BOOT_DISK_SIZE" \
  --image-family="$KILN_IMAGE_FAMILY" \
  --image-project="$KILN_IMAGE_PROJECT" \
  --scopes=https://www.googleapis.com/auth/cloud-platform \
  --tags="${KILN_NAME}-server" \
  --metadata="install-nvidia-driver=True,kiln-model-uri=${KILN_MODEL_URI},kiln-port=${KILN_PORT},kiln-package-uri=${KILN_MODEL_URI%/*}/kiln.tar.gz" \
  --metadata-from-file="startup-script=${here}/startup-script.sh"
