#!/usr/bin/env bash
# The quickstart on AwsCloud against moto, checked from outside with boto3:
#   1. with --keep: its stack exists with MLiy's tags and parameters, its instance runs and its
#      cluster is WAITING;
#   2. without (on a fresh moto): every stack it made is DELETE_COMPLETE, no instance runs and
#      its cluster is terminated.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
moto_pid=
stop_moto() { [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null; moto_pid=; return 0; }
trap stop_moto EXIT

start_moto() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  endpoint="http://127.0.0.1:$port"
  moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto_pid=$!
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "moto_server did not start" >&2
  exit 1
}

# The account's network, key and instance profile, made or found with boto3.
account_args() {
  python3 - "$endpoint" <<'PY'
import boto3, sys
kw = dict(endpoint_url=sys.argv[1])
ec2, iam = boto3.client("ec2", **kw), boto3.client("iam", **kw)
iam.create_instance_profile(InstanceProfileName="ds-notebook")
ec2.create_key_pair(KeyName="ds-admin")
subnet = [s for s in ec2.describe_subnets()["Subnets"] if s["AvailabilityZone"] == "us-east-1a"][0]["SubnetId"]
sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
print(f"--subnet {subnet} --security-group {sg} --key-name ds-admin --instance-profile ds-notebook")
PY
}

check() {
  python3 - "$endpoint" "$1" <<'PY'
import boto3, sys
endpoint, mode = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint)
cfn, ec2, emr = (boto3.client(s, **kw) for s in ("cloudformation", "ec2", "emr"))
stacks = [s for s in cfn.list_stacks()["StackSummaries"]]
instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
clusters = [c for c in emr.list_clusters()["Clusters"]]
problems = []
# The notebook's instance (the stack's). The cluster's nodes are EMR's: moto leaves them
# running after TerminateJobFlows (a gap of the emulator), so the cluster's state is checked.
notebook = [i for i in instances if any(t["Key"] == "aws:cloudformation:stack-id" for t in i.get("Tags", []))]
if not stacks or not instances or not clusters:
    problems.append(f"expected a stack, an instance and a cluster: {len(stacks)}, {len(instances)}, {len(clusters)}")
if mode == "keep":
    for s in stacks:
        full = cfn.describe_stacks(StackName=s["StackId"])["Stacks"][0]
        tags = {t["Key"]: t["Value"] for t in full.get("Tags", [])}
        params = {p["ParameterKey"]: p["ParameterValue"] for p in full.get("Parameters", [])}
        if full["StackStatus"] != "CREATE_COMPLETE":
            problems.append(f"stack {full['StackName']} is {full['StackStatus']}")
        for key, want in (("LaunchedBy", "MLIY"), ("userid", "alice"), ("Cost Center", "CC-1234"), ("AGS", "DS")):
            if tags.get(key) != want:
                problems.append(f"stack tag {key}={tags.get(key)!r}, expected {want!r}")
        for key, want in (("InstanceType", "r5.2xlarge"), ("KeyName", "ds-admin"), ("VolumeSize", "100")):
            if params.get(key) != want:
                problems.append(f"stack parameter {key}={params.get(key)!r}, expected {want!r}")
    if [i["State"]["Name"] for i in notebook] != ["running"]:
        problems.append(f"stack instances: {[i['State']['Name'] for i in notebook]}, expected one running")
    for c in clusters:
        tags = {t["Key"]: t["Value"] for t in emr.describe_cluster(ClusterId=c["Id"])["Cluster"]["Tags"]}
        if c["Status"]["State"] != "WAITING" or tags.get("LaunchedBy") != "MLIY":
            problems.append(f"cluster {c['Id']} is {c['Status']['State']} with tags {tags}")
else:
    problems += [f"stack {s['StackName']} is {s['StackStatus']}" for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    problems += [f"instance {i['InstanceId']} is running" for i in notebook if i["State"]["Name"] == "running"]
    if not notebook:
        problems.append("the notebook's instance is not found")
    problems += [f"cluster {c['Id']} is {c['Status']['State']}" for c in clusters if not c["Status"]["State"].startswith("TERMINATED")]
if problems:
    sys.exit(f"quickstart on moto ({mode}): " + "; ".join(problems))
print(f"quickstart on moto ({mode}): {len(stacks)} stack(s), {len(instances)} instance(s), {len(clusters)} cluster(s) as expected")
PY
}

endpoint_log=$(mktemp)
for mode in keep clean; do
  start_moto
  args=$(account_args)
  flags=()
  [ "$mode" = keep ] && flags=(--keep)
  # All features, as the tests were built: the same artifacts (the aws feature alone would
  # rebuild the AWS SDK with other dependency features).
  # shellcheck disable=SC2086
  cargo run -q --locked --all-features --example quickstart -- --aws-endpoint "$endpoint" $args "${flags[@]}" \
    >/dev/null 2>"$endpoint_log"
  # A panic in one of its tasks (the progress bars) does not end the program: it fails the check.
  if grep -q panicked "$endpoint_log"; then
    cat "$endpoint_log" >&2
    exit 1
  fi
  check "$mode"
  stop_moto
done
