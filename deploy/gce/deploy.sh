#!/usr/bin/env bash
# The whole reference deployment in order: template, firewall, group + autoscaler,
# load balancer. Pass --dry-run to print every command.
here=$(cd "$(dirname "$0")" && pwd)
set -euo pipefail
for step in create-instance-template create-firewall create-instance-group create-load-balancer; do
  bash "$here/$step.sh" "$@"
done
