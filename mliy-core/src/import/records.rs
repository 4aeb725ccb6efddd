//! MLiy's own records of the machines it launched: a Django `dumpdata` of `mliyweb.instance`
//! and `mliyweb.cluster` (with `mliyweb.software_config`, to name their software configs),
//! read for who owns a machine whose tags do not say.

use super::{pk_text, rows};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

/// What MLiy's database says of one machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MliyRecord {
    /// The owner's username (`userid`).
    pub owner: String,
    /// The software config's name, when the dump names it.
    pub software_config: Option<String>,
}

/// MLiy's records, by EC2 instance id, EMR cluster id and stack id.
#[derive(Debug, Clone, Default)]
pub struct MliyRecords {
    machines: HashMap<String, MliyRecord>,
}

impl MliyRecords {
    /// The largest dump read (64 MiB).
    pub const MAX_BYTES: usize = 64 << 20;

    /// Reads a `dumpdata` JSON list. Rows of other models are ignored; a row without a
    /// `userid` is kept out (it says nothing of an owner).
    ///
    /// # Errors
    /// [`Error::Validation`] for a dump over [`Self::MAX_BYTES`]; [`Error::Parse`] for text that
    /// is not a Django fixture.
    pub fn parse(dump: &str) -> Result<MliyRecords> {
        if dump.len() > Self::MAX_BYTES {
            return Err(Error::validation("mliy dump", format!("{} bytes", dump.len()), "at most 64 MiB"));
        }
        let doc: Value = serde_json::from_str(dump).map_err(|e| Error::parse("mliy dump", e.to_string()))?;
        let all = rows("mliy dump", &doc)?;
        let names: HashMap<String, String> = all
            .iter()
            .filter(|r| r.model == "mliyweb.software_config")
            .map(|r| (r.pk.clone(), r.str("name")))
            .collect();
        let mut machines = HashMap::new();
        for r in &all {
            let ids = match r.model {
                "mliyweb.instance" => vec![r.pk.clone()],
                "mliyweb.cluster" => vec![r.pk.clone(), r.str("cluster_id")],
                _ => continue,
            };
            let owner = r.str("userid").trim().to_string();
            if owner.is_empty() {
                continue;
            }
            let software_config =
                r.fields.get("software_config").filter(|v| !v.is_null()).and_then(|v| names.get(&pk_text(v)));
            let record = MliyRecord { owner, software_config: software_config.cloned() };
            for id in ids.into_iter().filter(|id| !id.is_empty()) {
                machines.insert(id, record.clone());
            }
        }
        Ok(MliyRecords { machines })
    }

    /// The record of an instance id, a cluster id or a stack id.
    pub fn get(&self, machine_id: &str) -> Option<&MliyRecord> {
        self.machines.get(machine_id)
    }

    /// How many ids the records know.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether they know none.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = r#"[
      {"model": "mliyweb.software_config", "pk": 3, "fields": {"name": "MLiyDefault"}},
      {"model": "mliyweb.instance", "pk": "i-0abc", "fields": {"userid": "dana", "software_config": 3, "state": "running"}},
      {"model": "mliyweb.instance", "pk": "i-0def", "fields": {"userid": "", "software_config": 3}},
      {"model": "mliyweb.cluster", "pk": "arn:aws:cloudformation:us-east-1:1:stack/c/1", "fields": {"cluster_id": "j-1X", "userid": "erin", "software_config": null}},
      {"model": "mliyweb.stack", "pk": 1, "fields": {}}
    ]"#;

    #[test]
    fn owners_and_software_configs_by_machine() {
        let records = MliyRecords::parse(DUMP).unwrap();
        let dana = records.get("i-0abc").unwrap();
        assert_eq!((dana.owner.as_str(), dana.software_config.as_deref()), ("dana", Some("MLiyDefault")));
        assert!(records.get("i-0def").is_none(), "no userid, no record");
        assert_eq!(records.get("j-1X").unwrap().owner, "erin");
        assert_eq!(records.get("arn:aws:cloudformation:us-east-1:1:stack/c/1").unwrap().software_config, None);
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn a_dump_that_is_not_one_is_refused() {
        assert!(matches!(MliyRecords::parse("{\"model\": 1}").unwrap_err(), Error::Parse { .. }));
        assert!(matches!(MliyRecords::parse("[{\"pk\": 1}]").unwrap_err(), Error::Parse { .. }));
        let big = " ".repeat(MliyRecords::MAX_BYTES + 1);
        assert!(matches!(MliyRecords::parse(&big).unwrap_err(), Error::Validation(_)));
    }
}
