#!/usr/bin/env bash
# Deletes everything deploy.sh created, in reverse order.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
parse_common_args "$@"
require_gcloud
P=$(gcloud_project_flag)

run gcloud compute forwarding-rules delete "${KILN_NAME}-forwarding-rule" "$P" --global --quiet
run gcloud compute addresses delete "${KILN_NAME}-address" "$P" --global --quiet
run gcloud compute target-http-proxies delete "${KILN_NAME}-http-proxy" "$P" --quiet
run gcloud compute url-maps delete "${KILN_NAME}-url-map" "$P" --quiet
run gcloud compute backend-services delete "${KILN_NAME}-backend" "$P" --global --quiet
run gcloud compute instance-groups managed delete "${KILN_NAME}-group" "$P" --region="$KILN_REGION" --quiet
run gcloud compute health-checks delete "${KILN_NAME}-health-check" "$P" --quiet
run gcloud compute firewall-rules delete "${KILN_NAME}-allow-health-checks" "$P" --quiet
run gcloud compute firewall-rules delete "${KILN_NAME}-allow-http" "$P" --quiet
run gcloud compute instance-templates delete "${KILN_NAME}-template" "$P" --quiet
