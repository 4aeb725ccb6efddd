//! Importing MLiy's Django fixtures (`simpledb.json`, `instance_types_fixture.json`).
//!
//! Django fixtures refer to rows by primary key; the catalog refers to entries by name. The
//! importer resolves every reference and fails, naming the row, when one does not resolve.
//! MLiy kept templates and user-data scripts in the database; a fixture usually has them as
//! `null`, so they are given by path per software config.

pub mod edx;
mod records;
pub mod states;

pub use records::{MliyRecord, MliyRecords};

use crate::error::{Error, Result};
use crate::model::{
    Catalog, GroupConfig, GroupMatch, GroupSettings, InstanceType, Network, Param, SecurityGroup, SoftwareConfig,
    Source, VolumeSettings,
};
use crate::template::AwsType;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// What to import besides the main fixture.
#[derive(Debug, Clone, Default)]
pub struct MliyImport {
    /// The instance-type fixture's text, when separate.
    pub instance_types_fixture: Option<String>,
    /// Template path per software config name.
    pub templates: BTreeMap<String, PathBuf>,
    /// User-data script path per software config name.
    pub user_data: BTreeMap<String, PathBuf>,
    /// The subnet for every group config (MLiy used the portal host's own subnet).
    pub subnet_id: Option<String>,
    /// That subnet's availability zone.
    pub availability_zone: Option<String>,
    /// AMI id per software config name, replacing the fixture's (MLiy's sample fixture holds
    /// the placeholder `ami-id`).
    pub ami_ids: BTreeMap<String, String>,
}

/// An imported catalog and notes on what was not carried over.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The catalog.
    pub catalog: Catalog,
    /// Rows and fields that have no place in the catalog.
    pub notes: Vec<String>,
}

/// One fixture row.
struct Row<'a> {
    model: &'a str,
    pk: String,
    fields: &'a serde_json::Map<String, Value>,
}

impl Row<'_> {
    fn what(&self) -> String {
        format!("{} pk {}", self.model, self.pk)
    }

    fn str(&self, key: &str) -> String {
        match self.fields.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        }
    }

    fn bool(&self, key: &str) -> bool {
        matches!(self.fields.get(key), Some(Value::Bool(true)))
    }

    fn pks(&self, key: &str) -> Vec<String> {
        match self.fields.get(key) {
            Some(Value::Array(items)) => items.iter().map(pk_text).collect(),
            _ => Vec::new(),
        }
    }

    fn fk(&self, key: &str) -> Option<String> {
        self.fields.get(key).filter(|v| !v.is_null()).map(pk_text)
    }
}

fn pk_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows<'a>(what: &str, doc: &'a Value) -> Result<Vec<Row<'a>>> {
    let Value::Array(items) = doc else {
        return Err(Error::parse(what, "a Django fixture is a JSON list of {model, pk, fields} objects"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let model = item.get("model").and_then(Value::as_str);
            let fields = item.get("fields").and_then(Value::as_object);
            match (model, fields) {
                (Some(model), Some(fields)) => {
                    Ok(Row { model, pk: item.get("pk").map(pk_text).unwrap_or_default(), fields })
                }
                _ => Err(Error::parse(what, format!("entry {i} lacks a model or fields"))),
            }
        })
        .collect()
}

/// Looks up primary keys of one model by name.
struct Names(HashMap<String, String>);

impl Names {
    fn of(rows: &[Row<'_>], model: &str, field: &str) -> Names {
        Names(rows.iter().filter(|r| r.model == model).map(|r| (r.pk.clone(), r.str(field))).collect())
    }

    /// The names the row's many-to-many `field` refers to.
    fn many(&self, row: &Row<'_>, field: &str, model: &str, hint: &str) -> Result<Vec<String>> {
        self.resolve(row, field, &row.pks(field), model, hint)
    }

    /// The name the row's foreign key `field` refers to, if it has one.
    fn one(&self, row: &Row<'_>, field: &str, model: &str) -> Result<Option<String>> {
        Ok(self.resolve(row, field, &row.fk(field).into_iter().collect::<Vec<_>>(), model, "")?.pop())
    }

    fn resolve(&self, row: &Row<'_>, field: &str, pks: &[String], model: &str, hint: &str) -> Result<Vec<String>> {
        pks.iter()
            .map(|pk| {
                self.0.get(pk).cloned().ok_or_else(|| {
                    Error::validation(
                        format!("{}.{field}", row.what()),
                        pk.as_str(),
                        format!("must be the pk of a {model} row in the fixtures{hint}"),
                    )
                })
            })
            .collect()
    }
}

/// The fixture's rows and the look-ups the catalog's configs are built with.
struct Fixture<'a> {
    all: Vec<Row<'a>>,
    params: HashMap<String, Param>,
    types: Names,
    sgs: Names,
    groups: Names,
    group_configs: Names,
    templates: HashMap<String, String>,
    scripts: HashMap<String, String>,
    /// Said when an instance type does not resolve.
    types_hint: &'static str,
}

const SG: &str = "mliyweb.securitygroup";
const TYPE: &str = "mliyweb.instancetype";

/// The models the catalog is made of; rows of any other are skipped with a note.
const KNOWN: [&str; 8] = [
    "auth.group",
    "mliyweb.param",
    "mliyweb.software_config",
    SG,
    "mliyweb.groupconfig",
    TYPE,
    "mliyweb.cloudformation",
    "mliyweb.userdatascript",
];

/// Imports MLiy's fixture (`simpledb.json` text) into a catalog.
///
/// # Errors
/// [`Error::Parse`] for text that is not a Django fixture, [`Error::Validation`] for a
/// reference that does not resolve or a template/user-data name that matches no software
/// config.
pub fn import_mliy(fixture: &str, options: &MliyImport) -> Result<Imported> {
    let main: Value = serde_json::from_str(fixture).map_err(|e| Error::parse("fixture", e.to_string()))?;
    let types_doc = options
        .instance_types_fixture
        .as_deref()
        .map(|t| serde_json::from_str::<Value>(t).map_err(|e| Error::parse("instance types fixture", e.to_string())))
        .transpose()?;
    let mut all = rows("fixture", &main)?;
    if let Some(doc) = &types_doc {
        all.extend(rows("instance types fixture", doc)?);
    }
    let f = Fixture::new(all, types_doc.is_none());
    let mut notes = Vec::new();
    let group_configs =
        f.of("mliyweb.groupconfig").map(|r| f.group_config(r, options, &mut notes)).collect::<Result<Vec<_>>>()?;
    let software_configs = f
        .of("mliyweb.software_config")
        .map(|r| f.software_config(r, options, &mut notes))
        .collect::<Result<Vec<_>>>()?;
    for (given, what) in [
        (options.templates.keys().collect::<Vec<_>>(), "template"),
        (options.user_data.keys().collect(), "user data"),
        (options.ami_ids.keys().collect(), "ami id"),
    ] {
        if let Some(unknown) = given.into_iter().find(|n| !software_configs.iter().any(|s| &s.name == *n)) {
            return Err(Error::validation(what, unknown.as_str(), "NAME=… must name a software config of the fixture"));
        }
    }
    for r in f.all.iter().filter(|r| !KNOWN.contains(&r.model)) {
        notes.push(format!("{}: not part of the catalog, skipped", r.what()));
    }
    let catalog = Catalog {
        instance_types: f
            .of(TYPE)
            .map(|r| InstanceType {
                name: r.str("aws_name"),
                description: r.str("description"),
                ebs_optimizable: r.bool("ebs_optimizable"),
            })
            .collect(),
        security_groups: f.of(SG).map(|r| SecurityGroup { id: r.str("sgid"), name: r.str("name") }).collect(),
        params: f.param_library(),
        replacement_tokens: Vec::new(),
        software_configs,
        group_configs,
    };
    catalog.validate()?;
    Ok(Imported { catalog, notes })
}

impl<'a> Fixture<'a> {
    fn new(all: Vec<Row<'a>>, types_missing: bool) -> Self {
        let bodies =
            |model: &str| all.iter().filter(|r| r.model == model).map(|r| (r.pk.clone(), r.str("body"))).collect();
        Fixture {
            params: all
                .iter()
                .filter(|r| r.model == "mliyweb.param")
                .map(|r| (r.pk.clone(), Param::new(r.str("token"), r.str("replacement"))))
                .collect(),
            types: Names::of(&all, TYPE, "aws_name"),
            sgs: Names::of(&all, SG, "sgid"),
            groups: Names::of(&all, "auth.group", "name"),
            group_configs: Names::of(&all, "mliyweb.groupconfig", "name"),
            templates: bodies("mliyweb.cloudformation"),
            scripts: bodies("mliyweb.userdatascript"),
            types_hint: if types_missing { " (give the instance types fixture)" } else { "" },
            all,
        }
    }

    fn of(&self, model: &'static str) -> impl Iterator<Item = &Row<'a>> {
        self.all.iter().filter(move |r| r.model == model)
    }

    /// Every param, in the order of their primary keys.
    fn param_library(&self) -> Vec<Param> {
        let mut library: Vec<(u64, &String, &Param)> =
            self.params.iter().map(|(pk, p)| (pk.parse().unwrap_or(u64::MAX), pk, p)).collect();
        library.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        library.into_iter().map(|(_, _, p)| p.clone()).collect()
    }

    fn group_config(&self, r: &Row<'_>, options: &MliyImport, notes: &mut Vec<String>) -> Result<GroupConfig> {
        let group = self.groups.one(r, "group", "auth.group")?;
        // MLiy provisioned members of `AD_groupname` into the Django group; here the directory
        // group itself is matched, by its CN.
        let ad = r.str("AD_groupname");
        let (group, group_match) = if ad.trim().is_empty() {
            (group.unwrap_or_default(), GroupMatch::Name)
        } else {
            notes.push(format!("{}: members of directory group {ad:?} (matched by CN) may use it", r.what()));
            (ad, GroupMatch::Cn)
        };
        Ok(GroupConfig {
            name: r.str("name"),
            group,
            group_match,
            emr_access: r.bool("emr_access"),
            override_instance_name: r.str("override_instance_name"),
            ags: r.str("ags"),
            cost_center: r.str("cost_center"),
            sdlc: r.str("sdlc"),
            key_name: r.str("key_name"),
            iam_instance_profile: r.str("iam_instance_profile_name"),
            excluded_instance_types: self.types.many(r, "exclInstances", TYPE, self.types_hint)?,
            default_security_groups: self.sgs.many(r, "default_security_grps", SG, "")?,
            optional_security_groups: self.sgs.many(r, "optional_security_grps", SG, "")?,
            network: Network {
                subnet_id: options.subnet_id.clone(),
                availability_zone: options.availability_zone.clone(),
            },
            time_zone: None,
            params: Vec::new(),
            settings: GroupSettings::default(),
        })
    }

    fn software_config(&self, r: &Row<'_>, options: &MliyImport, notes: &mut Vec<String>) -> Result<SoftwareConfig> {
        let name = r.str("name");
        let source = |field: &str, given: &BTreeMap<String, PathBuf>, stored: &HashMap<String, String>| {
            given
                .get(&name)
                .map(|p| Source::path(p.clone()))
                .or_else(|| r.fk(field).and_then(|pk| stored.get(&pk)).map(|body| Source::inline(body.clone())))
        };
        let template = source("cloud_formation", &options.templates, &self.templates);
        if template.is_none() {
            notes.push(format!("software config {name}: no template (give one with --template {name}=PATH)"));
        }
        let ami = options.ami_ids.get(&name).cloned().unwrap_or_else(|| r.str("ami_id"));
        if !r.bool("emr_config") && AwsType::ImageId.check(&ami).is_err() {
            notes.push(format!("software config {name}: ami_id {ami:?} is not an AMI id (ami- and 8 or 17 hex digits); set it before launching"));
        }
        Ok(SoftwareConfig {
            emr: r.bool("emr_config"),
            template,
            job_flow: None,
            user_data: source("user_data", &options.user_data, &self.scripts),
            ami_id: ami,
            volume: VolumeSettings {
                kms_key: r.str("addtl_volume_kms_key"),
                device_path: r.str("addtl_vol_dev_path"),
                default_size: r.fields.get("addtl_vol_default_size").and_then(Value::as_u64).map_or(10, |n| n as u32),
                description: r.str("addtl_vol_description"),
            },
            instance_name: r.str("instance_name"),
            html_description: r.str("html_description"),
            has_progress_bar: r.bool("has_progress_bar"),
            on_bootstrap_timeout: Default::default(),
            // MLiy's images report through MANAGER_HOSTNAME; readiness follows the template.
            ready_when: None,
            progress_protocol: crate::model::ProgressProtocol::Mliy,
            params: self.software_params(r)?,
            compatible_instance_types: self.types.many(r, "compatible_instancetypes", TYPE, self.types_hint)?,
            permitted_group_configs: self.group_configs.many(r, "permitted_groups", "mliyweb.groupconfig", "")?,
            master_security_group: self.sgs.one(r, "master_security_group", SG)?,
            slave_security_group: self.sgs.one(r, "slave_security_group", SG)?,
            additional_master_security_groups: self.sgs.many(r, "additional_master_security_groups", SG, "")?,
            additional_slave_security_groups: self.sgs.many(r, "additional_slave_security_groups", SG, "")?,
            custom_url_format: r.str("custom_url_format"),
            name,
        })
    }

    fn software_params(&self, r: &Row<'_>) -> Result<Vec<Param>> {
        r.pks("params")
            .iter()
            .map(|pk| {
                self.params.get(pk).cloned().ok_or_else(|| {
                    Error::validation(
                        format!("{}.params", r.what()),
                        pk.as_str(),
                        "must be the pk of a mliyweb.param row",
                    )
                })
            })
            .collect()
    }
}
