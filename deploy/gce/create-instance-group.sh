#!/usr/bin/env bash
# A regional managed instance group over two zones, autoscaled on GPU utilization
# (target 85 %, at most 4 instances, 360 s cool-down), with the named port the load
# balancer uses and autohealing on the same health check.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
parse_common_args "$@"
require_gcloud
P=$(gcloud_project_flag)

run gcloud compute health-checks create http "${KILN_NAME}-health-check" "$P" \
  --port="$KILN_PORT" --request-path=/v1/models/default \
  --check-interval=10s --timeout=5s --healthy-threshold=1 --unhealthy-threshold=3

run gcloud compute instance-groups managed create "${KILN_NAME}-group" "$P" \
  --region="$KILN_REGION" --zones="$KILN_ZONES" \
  --template="${KILN_NAME}-template" --size="$KILN_MIN_REPLICAS" \
  --health-check="${KILN_NAME}-health-check" --initial-delay=600

run gcloud compute instance-groups managed set-named-ports "${KILN_NAME}-group" "$P" \
  --region="$KILN_REGION" --named-ports="http:${KILN_PORT}"

run gcloud compute instance-groups managed set-autoscaling "${KILN_NAME}-group" "$P" \
  --region="$KILN_REGION" \
  --min-num-replicas="$KILN_MIN_REPLICAS" --max-num-replicas="$KILN_MAX_REPLICAS" \
  --cool-down-period="$KILN_COOL_DOWN" \
  --custom-metric-utilization="metric=${KILN_GPU_METRIC},utilization-target=${KILN_GPU_TARGET},utilization-target-type=GAUGE"
