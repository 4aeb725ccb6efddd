//! CloudFormation templates: parsing (JSON and YAML with short-form tags), parameter
//! declarations and their constraints, outputs, resources and `Fn::FindInMap` look-ups.
//!
//! ```
//! use mliy_core::template::Template;
//!
//! let t = Template::parse("demo.yaml", "
//! Parameters:
//!   Size: {Type: Number, Default: 100, MinValue: 1, MaxValue: 1024}
//! Resources:
//!   Volume: {Type: AWS::EC2::Volume, Properties: {Size: !Ref Size}}
//! ").unwrap();
//! let size = t.parameter("Size").unwrap();
//! assert_eq!(size.default.as_deref(), Some("100"));
//! assert!(size.check("2000").is_err());
//! ```

mod doc;
mod parameter;
mod pattern;
mod signal;
mod types;

pub use doc::{MAX_DOCUMENT_BYTES, Node, Parsed, parse_document, parse_json, parse_yaml};
pub use parameter::Parameter;
pub(crate) use parameter::REDACTED;
pub use signal::{SignalPolicy, parse_iso8601};
pub use types::{AwsType, ParamType, parse_number};

use crate::error::{Error, Result};
use serde::Serialize;

/// A key of an `Fn::FindInMap` look-up: a literal or a `Ref` to a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapKey {
    /// A literal key.
    Literal(String),
    /// `{"Ref": parameter}`.
    Ref(String),
    /// Anything else (a nested intrinsic), not checked offline.
    Other,
}

/// One `Fn::FindInMap` in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindInMap {
    /// The mapping's name.
    pub map: String,
    /// The top-level key.
    pub top: MapKey,
    /// The second-level key.
    pub second: MapKey,
}

/// A parsed CloudFormation template.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// Declared parameters, in template order.
    pub parameters: Vec<Parameter>,
    /// Output names, in template order.
    pub outputs: Vec<String>,
    /// `Fn::ForEach::…` loops under `Resources` (the `AWS::LanguageExtensions` transform
    /// expands them into resources), by key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub loops: Vec<String>,
    /// What a reader should know: tags that are not CloudFormation's, patterns that cannot
    /// be checked here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Resources: logical id → resource type, in template order.
    #[serde(serialize_with = "serialize_pairs")]
    pub resources: Vec<(String, String)>,
    /// Resources with a `CreationPolicy` `ResourceSignal`: CloudFormation completes them only
    /// after their signal, so their stack's completion means their bootstrap signalled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalPolicy>,
    #[serde(skip)]
    mappings: Vec<(String, Node)>,
    #[serde(skip)]
    find_in_maps: Vec<FindInMap>,
}

fn serialize_pairs<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl Template {
    /// Parses a template in JSON or YAML; `name` names it in errors.
    ///
    /// # Errors
    /// [`Error::Parse`] for malformed text, a document that is not a mapping, a missing or
    /// empty `Resources` section, or a parameter with a missing or unknown `Type`, a constraint
    /// that is not a number, or an `AllowedPattern` that is not a valid regular expression.
    pub fn parse(name: &str, text: &str) -> Result<Template> {
        let what = format!("template {name}");
        let doc::Parsed { root, mut warnings } = parse_document(text).map_err(|m| Error::parse(&what, m))?;
        let Node::Map(_) = root else {
            return Err(Error::parse(&what, format!("expected a mapping at the top, found {}", root.kind())));
        };
        let (resources, loops) = resources(&root).map_err(|m| Error::parse(&what, m))?;
        let parameters = match root.get("Parameters") {
            None | Some(Node::Null) => Vec::new(),
            Some(Node::Map(entries)) => entries
                .iter()
                .map(|(n, decl)| Parameter::from_node(n, decl).map_err(|m| Error::parse(&what, m)))
                .collect::<Result<Vec<_>>>()?,
            Some(other) => {
                return Err(Error::parse(&what, format!("Parameters must be a mapping, found {}", other.kind())));
            }
        };
        let outputs = root
            .get("Outputs")
            .and_then(Node::entries)
            .map_or_else(Vec::new, |e| e.iter().map(|(k, _)| k.clone()).collect());
        let mappings = root.get("Mappings").and_then(Node::entries).map(<[_]>::to_vec).unwrap_or_default();
        warnings.extend(parameters.iter().filter_map(|p: &Parameter| p.pattern_warning()));
        let find_in_maps = find_in_maps(&root);
        let signals = root.get("Resources").map(signal::signal_policies).unwrap_or_default();
        Ok(Template { parameters, outputs, loops, warnings, resources, signals, mappings, find_in_maps })
    }

    /// The parameter named `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Whether an `AWS::EC2::Instance` waits for a resource signal.
    pub fn instance_signalled(&self) -> bool {
        self.signals.iter().any(|s| s.resource_type == "AWS::EC2::Instance")
    }

    /// How long CloudFormation waits for the instance's signal with these stack parameters
    /// (see [`SignalPolicy::timeout`]), if it waits for one.
    pub fn instance_signal_timeout(&self, parameters: &[(String, String)]) -> Option<std::time::Duration> {
        let policy = self.signals.iter().find(|s| s.resource_type == "AWS::EC2::Instance")?;
        policy.timeout(parameters, |p| self.parameter(p).and_then(|d| d.default.clone()))
    }

    /// Every `Fn::FindInMap` in the template.
    pub fn find_in_maps(&self) -> &[FindInMap] {
        &self.find_in_maps
    }

    /// The keys of a mapping's top level (`None` when the template has no such mapping).
    pub fn mapping_keys(&self, map: &str) -> Option<Vec<&str>> {
        let (_, node) = self.mappings.iter().find(|(name, _)| name == map)?;
        Some(node.entries().map_or_else(Vec::new, |e| e.iter().map(|(k, _)| k.as_str()).collect()))
    }

    /// Whether `map` has `top` (and, when given, `top.second`).
    pub fn mapping_has(&self, map: &str, top: &str, second: Option<&str>) -> bool {
        let Some((_, node)) = self.mappings.iter().find(|(name, _)| name == map) else {
            return false;
        };
        match (node.get(top), second) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(inner), Some(key)) => inner.get(key).is_some(),
        }
    }
}

/// Logical id → resource type, in template order.
type Resources = Vec<(String, String)>;

/// The resources and the `Fn::ForEach::…` loops among them.
fn resources(root: &Node) -> Result<(Resources, Vec<String>), String> {
    let Some(Node::Map(entries)) = root.get("Resources").filter(|r| r.entries().is_some_and(|e| !e.is_empty())) else {
        return Err("no Resources: a CloudFormation template declares at least one resource".into());
    };
    let (mut resources, mut loops) = (Vec::new(), Vec::new());
    for (id, r) in entries {
        if id.starts_with("Fn::ForEach::") {
            loops.push(id.clone());
            continue;
        }
        let ty = match r.get("Type") {
            Some(Node::Scalar(ty)) => ty.clone(),
            // A preprocessor's module (`Type: !Rain::Module path`): named as written.
            Some(Node::Map(one)) if one.len() == 1 && one[0].1.as_str().is_some() => {
                format!("{} {}", one[0].0, one[0].1.as_str().unwrap_or_default())
            }
            _ => return Err(format!("resource {id} has no Type")),
        };
        resources.push((id.clone(), ty));
    }
    Ok((resources, loops))
}

fn find_in_maps(root: &Node) -> Vec<FindInMap> {
    let key = |n: &Node| match n {
        Node::Scalar(s) => MapKey::Literal(s.clone()),
        Node::Map(e) if e.len() == 1 && e[0].0 == "Ref" => {
            e[0].1.as_str().map_or(MapKey::Other, |p| MapKey::Ref(p.to_string()))
        }
        _ => MapKey::Other,
    };
    let mut found = Vec::new();
    root.walk(|node| {
        if let Node::Map(entries) = node
            && let [(k, Node::Seq(args))] = entries.as_slice()
            && k == "Fn::FindInMap"
            && let [Node::Scalar(map), top, second, ..] = args.as_slice()
        {
            let f = FindInMap { map: map.clone(), top: key(top), second: key(second) };
            if !found.contains(&f) {
                found.push(f);
            }
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_string_parses_or_errs(text in ".{0,400}") {
            let _ = Template::parse("p", &text);
        }

        #[test]
        fn yaml_like_strings_parse_or_err(text in "[-:!&*\\[\\]{}|>'\"#%@` \n\tA-Za-z0-9.,?]{0,300}") {
            let _ = Template::parse("p", &text);
        }

        #[test]
        fn tagged_documents_parse_or_err(
            tag in "!(Ref|Sub|GetAtt|If|Join|Base64|FindInMap|Select|Split|Equals|Not|And|Or|ImportValue|GetAZs|Cidr|Condition|Bogus|!str|!int)",
            body in "[\\[\\]{}A-Za-z0-9., :-]{0,40}",
        ) {
            let text = format!("Parameters:\n  P: {{Type: String, Default: {tag} {body}}}\nResources:\n  R:\n    Type: X\n    Properties: {{A: {tag} {body}}}\n");
            let _ = Template::parse("p", &text);
        }
    }

    #[test]
    fn minimal_yaml_template() {
        let t = Template::parse(
            "t",
            "AWSTemplateFormatVersion: 2010-09-09\nParameters:\n  A: {Type: String, Default: 0}\nResources:\n  R: {Type: AWS::S3::Bucket}\nOutputs:\n  O: {Value: !Ref R}\n",
        )
        .unwrap();
        assert_eq!(t.parameters[0].default.as_deref(), Some("0"));
        assert_eq!(t.outputs, ["O"]);
        assert_eq!(t.resources, [("R".to_string(), "AWS::S3::Bucket".to_string())]);
    }

    #[test]
    fn bad_templates_are_clear_errors() {
        let cases = [
            ("[1, 2]", "expected a mapping"),
            ("Parameters: {}\n", "no Resources"),
            ("Resources: {R: {Properties: {}}}\n", "resource R has no Type"),
            ("Parameters: [a]\nResources: {R: {Type: X}}\n", "Parameters must be a mapping"),
            ("Parameters: {P: {Default: 1}}\nResources: {R: {Type: X}}\n", "parameter P has no Type"),
            ("Parameters: {P: {Type: Strng}}\nResources: {R: {Type: X}}\n", "unknown Type \"Strng\""),
            ("Parameters: {P: {Type: Number, MinValue: x}}\nResources: {R: {Type: X}}\n", "MinValue"),
            ("{\"Resources\": ", "EOF"),
            ("{\"Resources\": {\"R\": {\"Type\": \"X\"}}, \"Resources\": {}}", "duplicate key \"Resources\""),
            ("Resources: {R: {Type: X}}\nResources: {}\n", "duplicate key \"Resources\""),
        ];
        for (text, needle) in cases {
            let e = Template::parse("bad", text).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn real_templates_are_read_as_cloudformation_reads_them() {
        // Java's look-ahead and `[\w-]`; an unparseable pattern is a warning, not a refusal.
        let t = Template::parse(
            "t",
            "Parameters:\n  A: {Type: String, AllowedPattern: '^(?=.*[0-9])[\\w-]+$'}\n  B: {Type: String, AllowedPattern: '[a-'}\nResources: {R: {Type: X}}\n",
        )
        .unwrap();
        assert!(t.parameter("A").unwrap().check("ab-1").is_ok());
        assert!(t.parameter("A").unwrap().check("ab-c").is_err());
        assert!(
            t.warnings.iter().any(|w| w.contains("parameter B: AllowedPattern is not checked")),
            "{:?}",
            t.warnings
        );
        // A preprocessor's tags and !ValueOf in Rules: kept opaque, with a warning.
        let t = Template::parse(
            "t",
            "Rules:\n  R1: {Assertions: [{Assert: !Equals [!ValueOf [P, Tag], x]}]}\nResources:\n  Fn::ForEach::Buckets: [N, [a, b], {'${N}': {Type: AWS::S3::Bucket}}]\n  Q: {Type: AWS::SQS::Queue, Properties: !Rain::Embed q.json}\n",
        )
        .unwrap();
        assert_eq!(t.resources, [("Q".to_string(), "AWS::SQS::Queue".to_string())]);
        assert_eq!(t.loops, ["Fn::ForEach::Buckets"]);
        let module = Template::parse("t", "Resources:\n  Net: {Type: !Rain::Module ../vpc.yml}\n").unwrap();
        assert_eq!(module.resources, [("Net".to_string(), "!Rain::Module ../vpc.yml".to_string())]);
        assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
        assert!(
            t.warnings.iter().any(|w| w.contains("!Rain::Embed")) && t.warnings.iter().any(|w| w.contains("!ValueOf"))
        );
        // A byte-order mark, and flow-style YAML that starts like JSON.
        let bom =
            Template::parse("t", "\u{feff}Parameters:\n  P: {Type: String}\nResources: {R: {Type: X}}\n").unwrap();
        assert_eq!(bom.parameters.len(), 1);
        let json_bom = Template::parse(
            "t",
            "\u{feff}{\"Parameters\": {\"P\": {\"Type\": \"String\"}}, \"Resources\": {\"R\": {\"Type\": \"X\"}}}",
        )
        .unwrap();
        assert_eq!(json_bom.parameters.len(), 1);
        let flow = Template::parse(
            "t",
            "{Parameters: {P: {Type: String}}, Resources: {R: {Type: X, Properties: {N: !Sub x}}}}",
        )
        .unwrap();
        assert_eq!(flow.parameters.len(), 1);
    }

    #[test]
    fn hostile_documents_are_refused_or_read_in_linear_work() {
        // One 1 MiB scalar aliased 5,000 times (it passed 4 GB before).
        let big = format!("a: &big {}\nb: [{}]\n", "x".repeat(1 << 20), vec!["*big"; 5000].join(", "));
        let e = Template::parse("t", &big).unwrap_err().to_string();
        assert!(e.contains("bytes of text"), "{e}");
        // 200,000 anchors and aliases (94 s before: each alias searched every anchor).
        let anchors: String = (0..200_000).map(|i| format!("- &a{i} v\n- *a{i}\n")).collect();
        assert_eq!(parse_yaml(&anchors).map(|n| matches!(n, Node::Seq(ref v) if v.len() == 400_000)), Ok(true));
        // 60,000 parameters in YAML, as many as fit the size limit (100,000 took 54 s before:
        // each key was compared with every earlier one).
        let mut many = String::from("Parameters:\n");
        for i in 0..60_000 {
            many.push_str(&format!("  P{i}: {{Type: String}}\n"));
        }
        many.push_str("Resources: {R: {Type: X}}\n");
        assert_eq!(Template::parse("t", &many).unwrap().parameters.len(), 60_000);
        let huge = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        assert!(Template::parse("t", &huge).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn find_in_map_refs_are_collected() {
        let t = Template::parse(
            "t",
            "Parameters: {T: {Type: String}}\nMappings: {M: {a: {K: v}}}\nConditions:\n  C: !Equals [!FindInMap [M, !Ref T, K], 'v']\nResources: {R: {Type: X}}\n",
        )
        .unwrap();
        assert_eq!(
            t.find_in_maps(),
            [FindInMap { map: "M".into(), top: MapKey::Ref("T".into()), second: MapKey::Literal("K".into()) }]
        );
        assert!(t.mapping_has("M", "a", Some("K")));
        assert!(!t.mapping_has("M", "b", None));
        assert_eq!(t.mapping_keys("M"), Some(vec!["a"]));
    }
}
