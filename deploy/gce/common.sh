#!/usr/bin/env bash
# Shared settings and helpers for the GCE scripts. Every script accepts --dry-run, which
# prints the exact gcloud commands instead of running them. Settings come from the
# environment so a deployment is reproducible: export them or put them in a file and
# pass --env FILE.
set -euo pipefail

KILN_PROJECT=${KILN_PROJECT:-}
KILN_REGION=${KILN_REGION:-us-central1}
KILN_ZONES=${KILN_ZONES:-us-central1-a,us-central1-b}
KILN_NAME=${KILN_NAME:-kiln}
KILN_MACHINE_TYPE=${KILN_MACHINE_TYPE:-n1-standard-16}
KILN_GPU_TYPE=${KILN_GPU_TYPE:-nvidia-tesla-t4}
KILN_GPU_COUNT=${KILN_GPU_COUNT:-4}
KILN_BOOT_DISK_SIZE=${KILN_BOOT_DISK_SIZE:-100GB}
KILN_IMAGE_FAMILY=${KILN_IMAGE_FAMILY:-common-cu124-debian-11}
KILN_IMAGE_PROJECT=${KILN_IMAGE_PROJECT:-deeplearning-platform-release}
KILN_MODEL_URI=${KILN_MODEL_URI:-gs://my-bucket/kiln/models/default}
KILN_PORT=${KILN_PORT:-8888}
KILN_MIN_REPLICAS=${KILN_MIN_REPLICAS:-2}
KILN_MAX_REPLICAS=${KILN_MAX_REPLICAS:-4}
KILN_GPU_TARGET=${KILN_GPU_TARGET:-85}
KILN_COOL_DOWN=${KILN_COOL_DOWN:-360}
# The GPU utilization the autoscaler reads: the Ops Agent's NVML metric by default.
KILN_GPU_METRIC=${KILN_GPU_METRIC:-agent.googleapis.com/gpu/utilization}

DRY_RUN=0

usage_common() {
  cat <<USAGE
options:
  --dry-run     print the gcloud commands instead of running them
  --env FILE    read KILN_* settings from FILE first
  -h, --help    this help
settings (environment): KILN_PROJECT KILN_REGION KILN_ZONES KILN_NAME KILN_MACHINE_TYPE
  KILN_GPU_TYPE KILN_GPU_COUNT KILN_MODEL_URI KILN_PORT KILN_MIN_REPLICAS KILN_MAX_REPLICAS
  KILN_GPU_TARGET KILN_COOL_DOWN KILN_GPU_METRIC
USAGE
}

parse_common_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --env)
        [ $# -ge 2 ] || { echo "error: --env needs a file" >&2; exit 2; }
        # shellcheck disable=SC1090
        source "$2"
        shift
        ;;
      -h|--help) usage_common; exit 0 ;;
      *) echo "error: unknown option '$1'" >&2; usage_common >&2; exit 2 ;;
    esac
    shift
  done
}

# Runs (or, with --dry-run, prints) one command, quoted so it can be pasted into a shell.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    local arg out=""
    for arg in "$@"; do
      if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
        out+="$arg "
      else
        out+="'${arg//\'/\'\\\'\'}' "
      fi
    done
    printf '%s\n' "${out% }"
  else
    "$@"
  fi
}

gcloud_project_flag() {
  if [ -n "$KILN_PROJECT" ]; then
    printf -- '--project=%s' "$KILN_PROJECT"
  else
    printf -- '--quiet'
  fi
}

require_gcloud() {
  if [ "$DRY_RUN" = 0 ] && ! command -v gcloud >/dev/null 2>&1; then
    echo "error: gcloud not found; install the Google Cloud CLI or use --dry-run" >&2
    exit 1
  fi
}
