#!/usr/bin/env bash
# Firewall rules: ports 80 and 8888 to the serving instances, and the load balancer's
# health checkers (130.211.0.0/22, 35.191.0.0/16) on 8888.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
parse_common_args "$@"
require_gcloud
P=$(gcloud_project_flag)

run gcloud compute firewall-rules create "${KILN_NAME}-allow-http" "$P" \
  --direction=INGRESS --action=allow --rules="tcp:80,tcp:${KILN_PORT}" \
  --target-tags="${KILN_NAME}-server" --source-ranges=0.0.0.0/0

run gcloud compute firewall-rules create "${KILN_NAME}-allow-health-checks" "$P" \
  --direction=INGRESS --action=allow --rules="tcp:${KILN_PORT}" \
  --target-tags="${KILN_NAME}-server" --source-ranges=130.211.0.0/22,35.191.0.0/16
