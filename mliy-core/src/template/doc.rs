//! A CloudFormation document as an ordered tree of strings.
//!
//! CloudFormation treats every scalar as a string: `Default: 100` is `"100"`, `true` is
//! `"true"` and `2010-09-09` stays as written. YAML short-form intrinsic tags (`!Ref X`,
//! `!GetAtt A.B`, `!Sub …`) become their long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`).

use std::collections::HashSet;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; deeper documents are rejected instead of exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 128;
/// Most nodes a document may expand to (aliases included), against "billion laughs".
const MAX_NODES: usize = 1_000_000;
/// Most bytes of scalars a document may expand to (aliases included): one large scalar
/// aliased many times is as bad as many nodes.
const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;
/// The longest document read (CloudFormation itself takes templates up to 1 MB).
pub const MAX_DOCUMENT_BYTES: usize = 2 * 1024 * 1024;

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

/// A parsed document and what was noticed on the way (tags kept opaque).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The root node.
    pub root: Node,
    /// Things a reader should know, e.g. a tag that is not CloudFormation's.
    pub warnings: Vec<String>,
}

/// Parses JSON or YAML (a leading UTF-8 byte-order mark is skipped). Text that starts with
/// `{` is read as JSON, and as YAML when it is not JSON (a flow-style YAML template).
///
/// # Errors
/// A message with a position; documents over [`MAX_DOCUMENT_BYTES`], deeper than 128
/// levels, expanding (through aliases) past a million nodes or 16 MiB, or with a key twice
/// in one mapping are refused.
pub fn parse_document(text: &str) -> Result<Parsed, String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("the document has {} bytes, more than the {MAX_DOCUMENT_BYTES} accepted", text.len()));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.trim_start().starts_with('{') {
        return parse_yaml_with_warnings(text);
    }
    match parse_json(text) {
        Ok(root) => Ok(Parsed { root, warnings: Vec::new() }),
        // JSON with a key twice is refused as such; other failures may be flow-style YAML.
        Err(json) if json.contains("duplicate key") => Err(json),
        Err(json) => parse_yaml_with_warnings(text)
            .map_err(|yaml| if text.trim_start().starts_with("{\"") { json } else { yaml }),
    }
}

/// Parses a JSON document; a key twice in one object is an error (not last-wins).
pub fn parse_json(text: &str) -> Result<Node, String> {
    serde_json::from_str::<Node>(text).map_err(|e| e.to_string())
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Builds [`Node`]s from JSON: every scalar as the text serde_json would print.
struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Node::Map(entries))
    }
}

/// Parses the first document of a YAML stream.
pub fn parse_yaml(text: &str) -> Result<Node, String> {
    parse_yaml_with_warnings(text).map(|p| p.root)
}

fn parse_yaml_with_warnings(text: &str) -> Result<Parsed, String> {
    let mut builder = YamlBuilder::default();
    let root = builder.build(text)?;
    Ok(Parsed { root, warnings: builder.warnings })
}

/// A collection being built, with the tag and anchor it carried.
struct Open {
    items: Items,
    tag: Option<Tag>,
    anchor: usize,
    mark: Marker,
}

enum Items {
    Seq(Vec<Node>),
    /// Entries, the keys seen (duplicates are refused), and a key waiting for its value.
    Map(Vec<(String, Node)>, HashSet<String>, Option<String>),
}

/// An anchored node, with what it expands to.
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
}

#[derive(Default)]
struct YamlBuilder {
    stack: Vec<Open>,
    /// By anchor id (the parser numbers anchors 1, 2, … in document order).
    anchors: Vec<Option<Anchored>>,
    nodes: usize,
    bytes: usize,
    warnings: Vec<String>,
}

impl YamlBuilder {
    fn build(&mut self, text: &str) -> Result<Node, String> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| e.to_string())?;
            match event {
                Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
                Event::StreamEnd | Event::DocumentEnd => return Ok(Node::Null),
                Event::Alias(id) => {
                    let anchored = self.anchors.get(id).and_then(Option::as_ref);
                    let anchored = anchored.ok_or_else(|| at(&mark, "alias to an unknown anchor"))?;
                    let (nodes, bytes) = (anchored.nodes, anchored.bytes);
                    self.count(nodes, bytes, &mark)?;
                    let node = self.anchors.get(id).and_then(Option::as_ref).map_or(Node::Null, |a| a.node.clone());
                    if let Some(done) = self.push(node, 0, &mark)? {
                        return Ok(done);
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.count(1, value.len(), &mark)?;
                    let node = self.tagged(scalar(value, style, tag.is_some()), tag.as_ref(), &mark)?;
                    if let Some(done) = self.push(node, anchor, &mark)? {
                        return Ok(done);
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(Items::Seq(Vec::new()), tag, anchor, mark)?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(Items::Map(Vec::new(), HashSet::new(), None), tag, anchor, mark)?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(open) = self.stack.pop() else {
                        return Err(at(&mark, "unbalanced collection end"));
                    };
                    let node = match open.items {
                        Items::Seq(items) => Node::Seq(items),
                        Items::Map(entries, ..) => Node::Map(entries),
                    };
                    let node = self.tagged(node, open.tag.as_ref(), &open.mark)?;
                    self.count(1, 0, &open.mark)?;
                    if let Some(done) = self.push(node, open.anchor, &open.mark)? {
                        return Ok(done);
                    }
                }
            }
        }
    }

    fn open(&mut self, items: Items, tag: Option<Tag>, anchor: usize, mark: Marker) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(at(&mark, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(Open { items, tag, anchor, mark });
        Ok(())
    }

    /// Adds what a node expands to, refusing documents past the bounds.
    fn count(&mut self, nodes: usize, bytes: usize, mark: &Marker) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(at(mark, &format!("expands to more than {MAX_NODES} nodes")));
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(at(mark, &format!("expands to more than {MAX_EXPANDED_BYTES} bytes of text")));
        }
        Ok(())
    }

    /// Adds a finished node to its parent; returns it when it is the document's root.
    fn push(&mut self, node: Node, anchor: usize, mark: &Marker) -> Result<Option<Node>, String> {
        if anchor != 0 {
            let (mut nodes, mut bytes) = (0usize, 0usize);
            node.walk(|n| {
                nodes += 1;
                bytes += n.as_str().map_or(0, str::len);
            });
            // Keeping the anchored copy costs what it holds (nested anchors copy again).
            self.count(0, bytes, mark)?;
            if self.anchors.len() <= anchor {
                self.anchors.resize_with(anchor + 1, || None);
            }
            self.anchors[anchor] = Some(Anchored { node: node.clone(), nodes, bytes });
        }
        let Some(open) = self.stack.last_mut() else { return Ok(Some(node)) };
        match &mut open.items {
            Items::Seq(items) => {
                items.push(node);
                Ok(None)
            }
            Items::Map(entries, keys, pending) => match pending.take() {
                Some(key) => {
                    if !keys.insert(key.clone()) {
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

fn scalar(value: String, style: TScalarStyle, tagged: bool) -> Node {
    let plain_null = style == TScalarStyle::Plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
    if plain_null && !tagged { Node::Null } else { Node::Scalar(value) }
}

impl YamlBuilder {
    /// Applies a tag: CloudFormation's short forms become long forms; YAML's own tags are
    /// dropped; any other tag (a preprocessor's, such as `!Rain::Embed`) is kept as an opaque
    /// one-key mapping `{"!Tag": value}`, with a warning.
    fn tagged(&mut self, node: Node, tag: Option<&Tag>, mark: &Marker) -> Result<Node, String> {
        let Some(tag) = tag else { return Ok(node) };
        if tag.handle == "!!" || tag.handle.starts_with("tag:yaml.org") {
            return Ok(match (tag.suffix.as_str(), node) {
                ("null", _) => Node::Null,
                (_, Node::Null) => Node::Scalar(String::new()),
                (_, other) => other,
            });
        }
        let intrinsic = INTRINSICS.iter().find(|(short, _)| *short == tag.suffix && tag.handle == "!");
        let Some((name, long)) = intrinsic else {
            let shown = format!("{}{}", tag.handle, tag.suffix);
            self.warnings.push(at(mark, &format!("tag {shown} is not CloudFormation's; kept as an opaque value")));
            return Ok(Node::Map(vec![(shown, node)]));
        };
        Ok(long_form(name, long, node))
    }
}

/// A short-form intrinsic's long form.
fn long_form(name: &str, long: &str, node: Node) -> Node {
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
    Node::Map(vec![(long.to_string(), value)])
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
