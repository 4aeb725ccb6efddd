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
# Idle stop: every 5 minutes, tell the portal the machine is in use while a Jupyter kernel
# computes or an SSH session is open, so a long computation is never stopped as idle. The
# secret goes in a root-only header file, never on a command line.
install -d -m 700 /opt/mliy
(umask 077 && printf 'X-Mliy-Progress-Token: %s\n' "$PROGRESS_TOKEN" > /opt/mliy/activity.header)
printf '%s\n' '{{{MLIY_ACTIVITY_URL}}}' > /opt/mliy/activity.url
cat > /opt/mliy/activity.sh <<'ACTIVITY'
#!/bin/bash
# Reports activity to mliy while a kernel computes or someone is logged in.
here=$(dirname "$0")
url=$(cat "$here/activity.url")
kernels=$(ps -eo pcpu=,args= | awk '/ipykernel/ && $1 >= 5 {n++} END {print n+0}')
sessions=$(who | wc -l)
if [ -n "$url" ] && { [ "$kernels" -gt 0 ] || [ "$sessions" -gt 0 ]; }; then
  curl -fsS -X POST -H "@$here/activity.header" \
    --data-urlencode "detail=$kernels busy kernels, $sessions sessions" "$url" || true
fi
ACTIVITY
chmod 700 /opt/mliy/activity.sh
(crontab -l 2>/dev/null || true; echo '*/5 * * * * /opt/mliy/activity.sh') | crontab -
progress 100 'notebook ready'
