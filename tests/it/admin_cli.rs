//! The admin commands end to end, as an operator runs them: the `mliy` binary on a
//! deployment config with `AwsCloud` on moto and a SQLite store, checked from outside with
//! boto3. moto changes states at once and runs no bootstrap, so the software config here has
//! no progress bar (progress reports are covered on SimCloud in the engine's tests).

use super::moto::{Account, Moto};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A deployment folder: `mliy.yaml`, the catalog and its files, the SQLite store.
struct Deployment {
    dir: tempfile::TempDir,
    moto: Moto,
}

impl Deployment {
    fn new(moto: Moto, account: &Account, replica: &str) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
        for file in ["instance.yaml", "cluster.yaml", "userdata.sh"] {
            std::fs::copy(examples.join(file), dir.path().join(file)).unwrap();
        }
        let catalog = std::fs::read_to_string(examples.join("catalog.yaml"))
            .unwrap()
            .replace("has_progress_bar: true", "has_progress_bar: false")
            .replace("subnet-0123abcd", &account.subnet_id)
            .replace("sg-0a1b2c3d", &account.security_group)
            .replace("key_name: ds-admin", &format!("key_name: {}", account.key_name))
            .replace(
                "iam_instance_profile: ds-notebook",
                &format!("iam_instance_profile: {}", account.instance_profile),
            )
            .replace("optional_security_groups: [sg-0a1b2c3e]", "optional_security_groups: []");
        std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
        let config = format!(
            "catalog: catalog.yaml\n\
             cloud: {{aws: {{region: us-east-1, endpoint_url: '{}'}}}}\n\
             store: {{sqlite: state.sqlite}}\n\
             engine: {{replica_id: {replica}, stack_poll: 1s, instance_poll: 1s, cluster_poll: 1s, lease_ttl: 4s, \
             progress_key: {{env: MLIY_TEST_PROGRESS_KEY}}}}\n\
             refresh: {{interval: 2s, absent_passes: 1}}\n",
            moto.url
        );
        std::fs::write(dir.path().join("mliy.yaml"), config).unwrap();
        Deployment { dir, moto }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mliy"));
        c.args(args)
            .env("MLIY_CONFIG", self.dir.path().join("mliy.yaml"))
            .env("MLIY_TEST_PROGRESS_KEY", "k".repeat(40))
            .env("USER", "ops-dana")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL");
        c
    }

    /// Runs `mliy ARGS --json`: the exit code and the JSON printed.
    fn mliy(&self, args: &[&str]) -> (i32, Value) {
        let out = self.command(&[args, &["--json"]].concat()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("mliy {args:?}: {e}: {stdout} / {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), json)
    }

    /// `mliy ARGS --json`, which must succeed.
    fn ok(&self, args: &[&str]) -> Value {
        let (code, json) = self.mliy(args);
        assert_eq!(code, 0, "mliy {args:?}: {json}");
        json
    }

    /// The resource once it is usable or terminal, within a minute.
    fn ready(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.ok(&["resources", "show", id]);
            let phase = r["phase"]["phase"].as_str().unwrap_or_default().to_string();
            if ["ready", "failed", "terminated"].contains(&phase.as_str()) || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn boto3(&self, script: &str) -> String {
        self.moto.boto3(script)
    }

    fn instance_state(&self, id: &str) -> String {
        self.boto3(&format!(
            "ec2 = boto3.client('ec2', **kw)\n\
             print(ec2.describe_instances(InstanceIds=['{id}'])['Reservations'][0]['Instances'][0]['State']['Name'])"
        ))
        .trim()
        .to_string()
    }
}

fn start() -> Option<(Deployment, Account)> {
    let moto = Moto::start()?;
    let account = moto.account();
    Some((Deployment::new(moto, &account, "cli-test"), account))
}

const LAUNCH: &[&str] = &[
    "launch",
    "--as",
    "alice",
    "--group-config",
    "data-science",
    "--software-config",
    "notebook",
    "--instance-type",
    "t3.large",
];

#[test]
fn an_operator_runs_a_fleet_from_the_command_line() {
    let Some((d, _)) = start() else { return };
    let checked = d.ok(&["config", "check", "--connect"]);
    assert_eq!(checked["secrets"][0]["status"], "read", "{checked}");
    assert!(!checked.to_string().contains(&"k".repeat(40)), "the progress key is not shown");

    let r = d.ok(&[LAUNCH, &["--wait"]].concat());
    assert_eq!((r["phase"]["phase"].as_str(), r["owner"].as_str()), (Some("ready"), Some("alice")), "{r}");
    let (id, instance) = (r["id"].as_str().unwrap().to_string(), r["instance_id"].as_str().unwrap().to_string());
    assert_eq!(d.instance_state(&instance), "running");

    let listed = d.ok(&["resources", "list", "--phase", "ready"]);
    assert_eq!(listed.as_array().map(|l| l.len()), Some(1), "{listed}");
    assert_eq!(d.ok(&["resources", "list", "--user", "bob"]), serde_json::json!([]));

    let stopped = d.ok(&["act", &id, "stop"]);
    assert_eq!(stopped["phase"]["phase"], "stopped", "{stopped}");
    assert_eq!(d.instance_state(&instance), "stopped");
    let started = d.ok(&["act", &id, "start"]);
    assert_eq!(started["phase"]["phase"], "ready", "{started}");
    assert_eq!(d.instance_state(&instance), "running");

    // A change made outside mliy, with the AWS API: refresh brings the store in line.
    d.boto3(&format!("boto3.client('ec2', **kw).stop_instances(InstanceIds=['{instance}'])"));
    let report = d.ok(&["refresh"]);
    assert!(report["changes"].as_u64() >= Some(1), "{report}");
    assert_eq!(d.ok(&["resources", "show", &id])["phase"]["phase"], "stopped");

    adopt_a_machine_made_outside_mliy(&d);

    let gone = d.ok(&["act", &id, "terminate"]);
    assert_eq!(gone["phase"]["phase"], "terminated", "{gone}");
    assert_eq!(d.instance_state(&instance), "terminated");
    let events = d.ok(&["resources", "events", &id]);
    let by_operator: Vec<&Value> =
        events.as_array().unwrap().iter().filter(|e| e["actor"]["name"] == "ops-dana").collect();
    assert_eq!(by_operator.len(), 4, "launch, stop, start, terminate: {events}");

    // Refused input exits 2, naming the field; an unknown id too.
    let (code, json) = d.mliy(&["resources", "list", "--phase", "asleep"]);
    assert_eq!((code, json["error"]["field"].as_str()), (2, Some("--phase")), "{json}");
    let (code, json) = d.mliy(&["act", "0123456789ab", "stop"]);
    assert_eq!((code, json["error"]["kind"].as_str()), (2, Some("not_found")), "{json}");
}

/// A fleet MLiy launched, made with boto3 and MLiy's exact tags (mliyweb/launch.py): an
/// instance and an EMR cluster. mliy finds both, maps their owners, adopts them and manages
/// them like any other resource.
fn adopt_a_machine_made_outside_mliy(d: &Deployment) {
    let group = "cn=data-science,ou=groups,dc=example,dc=com";
    let made = d.boto3(&format!(
        "tags = [{{'Key': k, 'Value': v}} for k, v in [('Name', 'DS-NOTEBOOK'), ('AGS', 'MLiy'), \
         ('Cost Center', 'PROJECT001'), ('SDLC', 'DEV'), ('Owner', 'Carol Mliy'), ('userid', 'carol'), \
         ('LaunchedBy', 'MLIY'), ('Software Config', 'notebook'), ('GroupConfig', 'data-science'), \
         ('UserGroup', '{group}')]]\n\
         r = boto3.client('ec2', **kw).run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, \
         InstanceType='t3.large', TagSpecifications=[{{'ResourceType': 'instance', 'Tags': tags}}])\n\
         ctags = [{{'Key': k, 'Value': v}} for k, v in [('Cost Center', 'PROJECT001'), ('AGS', 'MLiy'), \
         ('SDLC', 'DEV'), ('Purpose', 'spark jobs'), ('Owner', 'Erin Mliy'), ('Name', 'MLiy-spark-erin'), \
         ('UserGroup', '{group}'), ('Creator', 'erin'), ('Launched By', 'MLiy')]]\n\
         c = boto3.client('emr', **kw).run_job_flow(Name='MLiy-spark-erin', ReleaseLabel='emr-6.15.0', \
         Instances={{'MasterInstanceType': 'm5.xlarge', 'SlaveInstanceType': 'm5.xlarge', 'InstanceCount': 3, \
         'KeepJobFlowAliveWhenNoSteps': True}}, JobFlowRole='EMR_EC2_DefaultRole', ServiceRole='EMR_DefaultRole', \
         Tags=ctags)\n\
         print(r['Instances'][0]['InstanceId'], c['JobFlowId'])"
    ));
    let (instance, cluster) = made.trim().split_once(' ').unwrap();
    let status = |json: &Value, id: &str| -> (String, String) {
        let m = json["machines"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap_or_default();
        (m["status"].as_str().unwrap_or_default().into(), m["error"].to_string())
    };
    // Two EMR software configs serve data-science, and MLiy's cluster tags name none.
    let dry = d.ok(&["adopt", "--from-mliy-tags", "--dry-run"]);
    assert_eq!(dry["machines"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(status(&dry, instance).0, "would adopt", "{dry}");
    let (cluster_status, why) = status(&dry, cluster);
    assert!(cluster_status == "skipped" && why.contains("several EMR software configs"), "{dry}");
    // MLiy's own records say which.
    let dump = d.dir.path().join("mliy-dump.json");
    let rows = format!(
        r#"[{{"model": "mliyweb.software_config", "pk": 2, "fields": {{"name": "spark-emr"}}}},
           {{"model": "mliyweb.cluster", "pk": "", "fields": {{"cluster_id": "{cluster}", "userid": "erin", "software_config": 2}}}}]"#
    );
    std::fs::write(&dump, rows).unwrap();
    let dump = dump.to_str().unwrap();
    let dry = d.ok(&["adopt", "--from-mliy-tags", "--mliy-dump", dump, "--dry-run"]);
    let owners: Vec<&str> = dry["machines"].as_array().unwrap().iter().filter_map(|m| m["owner"].as_str()).collect();
    assert_eq!(owners.len(), 2, "every owner mapped: {dry}");
    assert!(owners.contains(&"carol") && owners.contains(&"erin"), "{dry}");
    assert_eq!(d.ok(&["resources", "list", "--user", "carol"]), serde_json::json!([]), "a dry run changes nothing");
    let done = d.ok(&["adopt", "--from-mliy-tags", "--mliy-dump", dump]);
    assert_eq!((status(&done, instance).0, status(&done, cluster).0), ("adopted".into(), "adopted".into()), "{done}");
    assert_eq!(d.ok(&["adopt", "--from-mliy-tags"])["machines"], serde_json::json!([]), "nothing is left to adopt");

    // From now on they are managed: stop, start and terminate the instance, end the cluster.
    let carols = d.ok(&["resources", "list", "--user", "carol"]);
    assert_eq!(carols[0]["instance_id"].as_str(), Some(instance), "{carols}");
    let id = carols[0]["id"].as_str().unwrap().to_string();
    assert_eq!(d.ok(&["act", &id, "stop"])["phase"]["phase"], "stopped");
    assert_eq!(d.instance_state(instance), "stopped");
    assert_eq!(d.ok(&["act", &id, "start"])["phase"]["phase"], "ready");
    assert_eq!(d.ok(&["act", &id, "terminate"])["phase"]["phase"], "terminated");
    assert_eq!(d.instance_state(instance), "terminated", "no stack of its own: the instance itself is ended");
    let erins = d.ok(&["resources", "list", "--user", "erin"]);
    assert_eq!(
        (erins[0]["cluster_id"].as_str(), erins[0]["phase"]["phase"].as_str()),
        (Some(cluster), Some("waiting"))
    );
    let erin_id = erins[0]["id"].as_str().unwrap().to_string();
    assert_eq!(d.ok(&["act", &erin_id, "terminate"])["phase"]["phase"], "terminated");
    let state = d.boto3(&format!(
        "print(boto3.client('emr', **kw).describe_cluster(ClusterId='{cluster}')['Cluster']['Status']['State'])"
    ));
    assert!(state.trim().starts_with("TERMINAT"), "{state}");
}

/// `mliy run` with its JSON lines read as they come.
struct Run {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Run {
    fn start(d: &Deployment) -> Run {
        let mut child = d.command(&["run", "--pickup", "1s", "--json"]).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::String(line)));
            }
        });
        Run { child, lines }
    }

    /// The first line `wanted` accepts, within a minute.
    fn until(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("mliy run did not say what was expected within a minute; it said {seen:#?}")
            };
            if wanted(&line) {
                return line;
            }
            seen.push(line);
        }
    }
}

fn stack_count(d: &Deployment, id: &str) -> usize {
    let out = d.boto3(&format!(
        "cfn = boto3.client('cloudformation', **kw)\n\
         print(len([s for s in cfn.list_stacks()['StackSummaries'] if '{id}' in s['StackName']]))"
    ));
    out.trim().parse().unwrap()
}

#[test]
fn mliy_run_killed_mid_launch_resumes_it_once_and_stops_on_sigterm() {
    let Some((d, _)) = start() else { return };
    let first = Run::start(&d);
    first.until(|l| l["started"] == true);
    // Recorded by the command, driven by `mliy run`.
    let launched = d.ok(LAUNCH);
    assert_eq!(launched["phase"]["phase"], "requested", "{launched}");
    let id = launched["id"].as_str().unwrap().to_string();
    let mut first = first;
    // The CreateStack transition is stored before the call is sent: SIGKILL then, mid-launch.
    let seen = first.until(|l| l["event"]["resource"] == id.as_str() && l["event"]["to"]["phase"] == "creating_stack");
    first.child.kill().unwrap();
    assert_eq!(seen["event"]["actor"]["type"], "engine");
    first.child.wait().unwrap();

    let second = Run::start(&d);
    second.until(|l| l["started"] == true && l["resumed"].as_u64() >= Some(1));
    let r = d.ready(&id);
    assert_eq!(r["phase"]["phase"], "ready", "{r}");
    assert_eq!(stack_count(&d, &id), 1, "one stack for the launch");
    let events = d.ok(&["resources", "events", &id]);
    let readies = events.as_array().unwrap().iter().filter(|e| e["to"]["phase"] == "ready").count();
    assert_eq!(readies, 1, "ready once: {events}");

    let mut second = second;
    let term = Command::new("kill").args(["-TERM", &second.child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let last = second.until(|l| l.get("stopped").is_some());
    assert_eq!(last["stopped"], "SIGTERM");
    assert!(second.child.wait().unwrap().success());
}
