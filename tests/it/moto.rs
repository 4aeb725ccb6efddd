//! A real AWS emulator for the tests: `moto_server` (PyPI `moto[server]` 5.2.5) started on a
//! free loopback port and stopped when the handle drops, plus what the tests need created in
//! it first (done with boto3, from outside mliy).

use super::servers;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto_server.
pub(crate) struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
}

/// What a launch from MLiy's EC2 template needs to exist in the emulated account.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Account {
    pub(crate) subnet_id: String,
    pub(crate) security_group: String,
    pub(crate) instance_profile: String,
    pub(crate) key_name: String,
}

impl Moto {
    /// Starts moto_server, or `None` (after saying so) when it is not installed.
    pub(crate) fn start() -> Option<Moto> {
        Self::start_with(&[])
    }

    /// Starts moto_server with these environment variables (`MOTO_ENABLE_RECORDING`, say).
    pub(crate) fn start_with(env: &[(&str, &str)]) -> Option<Moto> {
        let program = servers::find("moto_server", &["/usr/local/bin/moto_server"])?;
        let port = servers::free_port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Runs a boto3 script against this moto (`kw` holds the client arguments); returns
    /// what it prints.
    pub(crate) fn boto3(&self, script: &str) -> String {
        let prelude = format!(
            "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='testing', aws_secret_access_key='testing')\n",
            self.url
        );
        let out = Command::new("python3").arg("-c").arg(prelude + script).output().expect("python3 runs");
        assert!(out.status.success(), "boto3 script failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Creates a key pair and an instance profile, and names the default VPC's first subnet
    /// and security group.
    pub(crate) fn account(&self) -> Account {
        let json = self.boto3(
            "ec2 = boto3.client('ec2', **kw); iam = boto3.client('iam', **kw)\n\
             iam.create_instance_profile(InstanceProfileName='mliy-notebook')\n\
             ec2.create_key_pair(KeyName='mliy-admin')\n\
             subnet = [s for s in ec2.describe_subnets()['Subnets'] if s['AvailabilityZone'] == 'us-east-1a'][0]\n\
             sg = ec2.describe_security_groups()['SecurityGroups'][0]\n\
             print(json.dumps(dict(subnet_id=subnet['SubnetId'], security_group=sg['GroupId'], \
             instance_profile='mliy-notebook', key_name='mliy-admin')))\n",
        );
        serde_json::from_str(json.trim()).expect("account JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
