#!/usr/bin/env bash
# The global HTTP load balancer: backend service on the group's named port with the
# /v1/models/default health check, URL map, target proxy, global address and a
# forwarding rule on port 80.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
parse_common_args "$@"
require_gcloud
P=$(gcloud_project_flag)

run gcloud compute backend-services create "${KILN_NAME}-backend" "$P" \
  --global --protocol=HTTP --port-name=http \
  --health-checks="${KILN_NAME}-health-check" --timeout=60s \
  --connection-draining-timeout=30s

run gcloud compute backend-services add-backend "${KILN_NAME}-backend" "$P" \
  --global --instance-group="${KILN_NAME}-group" --instance-group-region="$KILN_REGION" \
  --balancing-mode=UTILIZATION --max-utilization=0.8

run gcloud compute url-maps create "${KILN_NAME}-url-map" "$P" \
  --default-service="${KILN_NAME}-backend"

run gcloud compute target-http-proxies create "${KILN_NAME}-http-proxy" "$P" \
  --url-map="${KILN_NAME}-url-map"

run gcloud compute addresses create "${KILN_NAME}-address" "$P" --global

run gcloud compute forwarding-rules create "${KILN_NAME}-forwarding-rule" "$P" \
  --global --address="${KILN_NAME}-address" \
  --target-http-proxy="${KILN_NAME}-http-proxy" --ports=80
