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
mod types;

pub use doc::{Node, parse_document, parse_json, parse_yaml};
pub use parameter::Parameter;
pub(crate) use parameter::REDACTED;
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
    /// Resources: logical id → resource type, in template order.
    #[serde(serialize_with = "serialize_pairs")]
    pub resources: Vec<(String, String)>,
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
        let root = parse_document(text).map_err(|m| Error::parse(&what, m))?;
        let Node::Map(_) = root else {
            return Err(Error::parse(&what, format!("expected a mapping at the top, found {}", root.kind())));
        };
        let resources = match root.get("Resources") {
            Some(Node::Map(entries)) if !entries.is_empty() => entries
                .iter()
                .map(|(id, r)| {
                    let ty = r
                        .get("Type")
                        .and_then(Node::as_str)
                        .ok_or_else(|| Error::parse(&what, format!("resource {id} has no Type")))?;
                    Ok((id.clone(), ty.to_string()))
                })
                .collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::parse(
                    &what,
                    "no Resources: a CloudFormation template declares at least one resource",
                ));
            }
        };
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
        Ok(Template { parameters, outputs, resources, mappings, find_in_maps: find_in_maps(&root) })
    }

    /// The parameter named `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
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
            ("Parameters: {P: {Type: String, AllowedPattern: '[a-'}}\nResources: {R: {Type: X}}\n", "AllowedPattern"),
            ("{\"Resources\": ", "EOF"),
        ];
        for (text, needle) in cases {
            let e = Template::parse("bad", text).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
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
