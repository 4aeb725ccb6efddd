//! A CloudFormation document as an ordered tree of strings.
//!
//! CloudFormation treats every scalar as a string: `Default: 100` is `"100"`, `true` is
//! `"true"` and `2010-09-09` stays as written. YAML short-form intrinsic tags (`!Ref X`,
//! `!GetAtt A.B`, `!Sub …`) become their long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`).

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; deeper documents are rejected instead of exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases included), against "billion laughs".
const MAX_NODES: usize = 1_000_000;

/// The short-form tags CloudFormation defines, by tag suffix, with their long-form key.
const INTRINSICS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Sub", "Fn::Sub"),
    ("GetAtt", "Fn::GetAtt"),
    ("If", "Fn::If"),
    ("Join", "Fn::Join"),
    ("Base64", "Fn::Base64"),
    ("FindInMap", "Fn::FindInMap"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("ImportValue", "Fn::ImportValue"),
    ("GetAZs", "Fn::GetAZs"),
    ("Cidr", "Fn::Cidr"),
    ("Transform", "Fn::Transform"),
    ("ToJsonString", "Fn::ToJsonString"),
    ("Length", "Fn::Length"),
];

/// One node of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An explicit or empty null (`~`, `null`, nothing; JSON `null`).
    Null,
    /// Any scalar, as written.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// A short name of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Scalar(_) => "a scalar",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    /// Visits this node and every node below it, depth first (iteratively).
    pub fn walk(&self, mut f: impl FnMut(&Node)) {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            f(node);
            match node {
                Node::Seq(items) => stack.extend(items.iter().rev()),
                Node::Map(entries) => stack.extend(entries.iter().rev().map(|(_, v)| v)),
                Node::Null | Node::Scalar(_) => {}
            }
        }
    }
}

/// Parses JSON (when the text starts with `{`) or YAML.
pub fn parse_document(text: &str) -> Result<Node, String> {
    if text.trim_start().starts_with('{') { parse_json(text) } else { parse_yaml(text) }
}

/// Parses a JSON document.
pub fn parse_json(text: &str) -> Result<Node, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(from_json(value))
}

fn from_json(value: serde_json::Value) -> Node {
    use serde_json::Value;
    match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Scalar(b.to_string()),
        Value::Number(n) => Node::Scalar(n.to_string()),
        Value::String(s) => Node::Scalar(s),
        Value::Array(items) => Node::Seq(items.into_iter().map(from_json).collect()),
        Value::Object(map) => Node::Map(map.into_iter().map(|(k, v)| (k, from_json(v))).collect()),
    }
}

/// Parses the first document of a YAML stream.
pub fn parse_yaml(text: &str) -> Result<Node, String> {
    YamlBuilder::default().build(text)
}

/// A collection being built, with the tag it carried.
enum Open {
    Seq(Vec<Node>, Option<Tag>, usize, Marker),
    Map(Vec<(String, Node)>, Option<String>, Option<Tag>, usize, Marker),
}

#[derive(Default)]
struct YamlBuilder {
    stack: Vec<Open>,
    anchors: Vec<(usize, Node)>,
    nodes: usize,
}

impl YamlBuilder {
    fn build(mut self, text: &str) -> Result<Node, String> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| e.to_string())?;
            match event {
                Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
                Event::StreamEnd | Event::DocumentEnd => return Ok(Node::Null),
                Event::Alias(id) => {
                    let node = self
                        .anchors
                        .iter()
                        .rev()
                        .find(|(a, _)| *a == id)
                        .map(|(_, n)| n.clone())
                        .ok_or_else(|| at(&mark, "alias to an unknown anchor"))?;
                    self.count(&node, &mark)?;
                    if let Some(done) = self.push(node, 0, &mark)? {
                        return Ok(done);
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let node = scalar(value, style, tag.as_ref(), &mark)?;
                    self.nodes += 1;
                    if let Some(done) = self.push(node, anchor, &mark)? {
                        return Ok(done);
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(&mark)?;
                    self.stack.push(Open::Seq(Vec::new(), tag, anchor, mark));
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(&mark)?;
                    self.stack.push(Open::Map(Vec::new(), None, tag, anchor, mark));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor, start) = match self.stack.pop() {
                        Some(Open::Seq(items, tag, anchor, start)) => {
                            (tagged(Node::Seq(items), tag.as_ref(), &start)?, anchor, start)
                        }
                        Some(Open::Map(entries, _, tag, anchor, start)) => {
                            (tagged(Node::Map(entries), tag.as_ref(), &start)?, anchor, start)
                        }
                        None => return Err(at(&mark, "unbalanced collection end")),
                    };
                    self.nodes += 1;
                    if let Some(done) = self.push(node, anchor, &start)? {
                        return Ok(done);
                    }
                }
            }
        }
    }

    fn open(&self, mark: &Marker) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(at(mark, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn count(&mut self, node: &Node, mark: &Marker) -> Result<(), String> {
        let mut n = 0usize;
        node.walk(|_| n += 1);
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(at(mark, &format!("expands to more than {MAX_NODES} nodes")));
        }
        Ok(())
    }

    /// Adds a finished node to its parent; returns it when it is the document's root.
    fn push(&mut self, node: Node, anchor: usize, mark: &Marker) -> Result<Option<Node>, String> {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Open::Seq(items, ..)) => {
                items.push(node);
                Ok(None)
            }
            Some(Open::Map(entries, pending, ..)) => match pending.take() {
                Some(key) => {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(at(mark, &format!("duplicate key {key:?}")));
                    }
                    entries.push((key, node));
                    Ok(None)
                }
                None => match node {
                    Node::Scalar(key) => {
                        *pending = Some(key);
                        Ok(None)
                    }
                    Node::Null => {
                        *pending = Some(String::new());
                        Ok(None)
                    }
                    other => Err(at(mark, &format!("a mapping key must be a scalar, not {}", other.kind()))),
                },
            },
        }
    }
}

fn at(mark: &Marker, message: &str) -> String {
    format!("{message} at line {} column {}", mark.line(), mark.col() + 1)
}

fn scalar(value: String, style: TScalarStyle, tag: Option<&Tag>, mark: &Marker) -> Result<Node, String> {
    let plain_null = style == TScalarStyle::Plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
    let node = if plain_null && tag.is_none() { Node::Null } else { Node::Scalar(value) };
    tagged(node, tag, mark)
}

/// Applies a tag: CloudFormation's short forms become long forms; YAML's own tags are dropped.
fn tagged(node: Node, tag: Option<&Tag>, mark: &Marker) -> Result<Node, String> {
    let Some(tag) = tag else { return Ok(node) };
    if tag.handle == "!!" || tag.handle.starts_with("tag:yaml.org") {
        return Ok(match (tag.suffix.as_str(), node) {
            ("null", _) => Node::Null,
            (_, Node::Null) => Node::Scalar(String::new()),
            (_, other) => other,
        });
    }
    let name = tag.suffix.as_str();
    let Some((_, long)) = INTRINSICS.iter().find(|(short, _)| *short == name) else {
        return Err(at(mark, &format!("unknown tag {}{}", tag.handle, tag.suffix)));
    };
    let node = match node {
        Node::Null => Node::Scalar(String::new()),
        other => other,
    };
    let value = match (name, node) {
        // `!GetAtt Resource.Attribute` is the list form split at the first dot.
        ("GetAtt", Node::Scalar(s)) => match s.split_once('.') {
            Some((resource, attribute)) => {
                Node::Seq(vec![Node::Scalar(resource.into()), Node::Scalar(attribute.into())])
            }
            None => Node::Scalar(s),
        },
        (_, other) => other,
    };
    Ok(Node::Map(vec![((*long).to_string(), value)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Scalar(v.into())
    }

    #[test]
    fn yaml_scalars_stay_as_written() {
        let doc = parse_yaml("a: 100\nb: true\nc: 2010-09-09\nd: 1.50\ne: ''\nf:\ng: ~\nh: 0x10\n").unwrap();
        assert_eq!(doc.get("a"), Some(&s("100")));
        assert_eq!(doc.get("b"), Some(&s("true")));
        assert_eq!(doc.get("c"), Some(&s("2010-09-09")));
        assert_eq!(doc.get("d"), Some(&s("1.50")));
        assert_eq!(doc.get("e"), Some(&s("")));
        assert_eq!(doc.get("f"), Some(&Node::Null));
        assert_eq!(doc.get("g"), Some(&Node::Null));
        assert_eq!(doc.get("h"), Some(&s("0x10")));
    }

    #[test]
    fn short_form_tags_become_long_form() {
        let doc = parse_yaml(
            "a: !Ref X\nb: !GetAtt Res.Attr.Deep\nc: !If [Cond, !Ref A, !Ref 'AWS::NoValue']\nd: !Sub\n  - '${x}'\n  - x: 1\ne: !GetAZs ''\nf: !Condition C\ng: !Base64 {Ref: U}\n",
        )
        .unwrap();
        assert_eq!(doc.get("a"), Some(&Node::Map(vec![("Ref".into(), s("X"))])));
        assert_eq!(
            doc.get("b"),
            Some(&Node::Map(vec![("Fn::GetAtt".into(), Node::Seq(vec![s("Res"), s("Attr.Deep")]))]))
        );
        let Some(Node::Map(c)) = doc.get("c") else { panic!("c is a map") };
        assert_eq!(c[0].0, "Fn::If");
        assert_eq!(doc.get("e"), Some(&Node::Map(vec![("Fn::GetAZs".into(), s(""))])));
        assert_eq!(doc.get("f"), Some(&Node::Map(vec![("Condition".into(), s("C"))])));
        assert!(matches!(doc.get("d"), Some(Node::Map(m)) if m[0].0 == "Fn::Sub"));
        assert!(matches!(doc.get("g"), Some(Node::Map(m)) if m[0].0 == "Fn::Base64"));
    }

    #[test]
    fn bad_documents_are_errors_with_a_position() {
        let e = parse_yaml("a: !Bogus x\n").unwrap_err();
        assert!(e.contains("unknown tag !Bogus") && e.contains("line 1"), "{e}");
        let e = parse_yaml("a: 1\na: 2\n").unwrap_err();
        assert!(e.contains("duplicate key \"a\""), "{e}");
        assert!(parse_yaml("a: [1, 2\n").is_err());
        let e = parse_yaml(&"[".repeat(1000)).unwrap_err();
        assert!(e.contains("recursion limit") || e.contains("nested deeper"), "{e}");
        let block: String = (0..200).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
        assert!(parse_yaml(&block).unwrap_err().contains("nested deeper than 128"));
        assert!(parse_json("{\"a\": }").is_err());
    }

    #[test]
    fn aliases_are_expanded_but_bounded() {
        let doc = parse_yaml("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(doc.get("b"), doc.get("a"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_yaml(&bomb).unwrap_err().contains("expands to more than"));
    }

    #[test]
    fn json_scalars_become_strings_in_order() {
        let doc = parse_json(r#"{"z": 100, "a": true, "m": null, "f": 1.5}"#).unwrap();
        let keys: Vec<_> = doc.entries().unwrap().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m", "f"]);
        assert_eq!(doc.get("z"), Some(&s("100")));
        assert_eq!(doc.get("a"), Some(&s("true")));
        assert_eq!(doc.get("m"), Some(&Node::Null));
        assert_eq!(doc.get("f"), Some(&s("1.5")));
    }
}
