#!/bin/bash
# Bootstrap of a notebook instance (mliy example). Tokens in triple braces are filled in by mliy.
set -euo pipefail
timedatectl set-timezone '{{{TIME_ZONE}}}'
DEVICE='{{{EBS_DEVICE}}}'
if [ -b "$DEVICE" ]; then
  mkfs -t xfs "$DEVICE" && mkdir -p /home/users && mount "$DEVICE" /home/users
fi
aws s3 cp 's3://{{{SOURCE_BUCKET}}}/{{{SOURCE_PACKAGE}}}' /tmp/package.tar.gz
tar -xzf /tmp/package.tar.gz -C /opt
/opt/notebook/install.sh --owner '{{{MLIY_USER}}}'
