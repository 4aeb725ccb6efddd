#!/bin/bash
# Bootstrap of a notebook instance (mliy example). Tokens in triple braces are filled in by mliy.
set -euo pipefail
# Progress for the portal's bar: the launch's secret and where to send it.
PROGRESS_TOKEN='{{{MLIY_PROGRESS_TOKEN}}}'
progress() {
  curl -fsS -X POST -H "X-Mliy-Progress-Token: $PROGRESS_TOKEN" --data-urlencode "percent=$1" \
    --data-urlencode "message=$2" '{{{MLIY_PROGRESS_URL}}}' || true
}
progress 5 'bootstrap started'
timedatectl set-timezone '{{{TIME_ZONE}}}'
DEVICE='{{{EBS_DEVICE}}}'
if [ -b "$DEVICE" ]; then
  mkfs -t xfs "$DEVICE" && mkdir -p /home/users && mount "$DEVICE" /home/users
fi
aws s3 cp 's3://{{{SOURCE_BUCKET}}}/{{{SOURCE_PACKAGE}}}' /tmp/package.tar.gz
tar -xzf /tmp/package.tar.gz -C /opt
/opt/notebook/install.sh --owner '{{{MLIY_USER}}}'
progress 100 'notebook ready'
