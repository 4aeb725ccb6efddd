//! The reference paths these workflows need: `$`, `$.a.b` and `$.a[0]`; `"Key.$": "$.path"`
//! fields in parameters and selectors. Intrinsic functions and the context object (`$$`) are
//! refused.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    Field(String),
    Index(usize),
}

/// Parses a reference path.
pub(super) fn parse(path: &str, at: &str) -> Result<Vec<Segment>> {
    let refuse = |rule: &str| Error::validation(at, path, rule.to_string());
    let Some(mut rest) = path.strip_prefix('$') else { return Err(refuse("a path starting with $")) };
    if rest.starts_with('$') {
        return Err(refuse("the context object ($$) is not supported"));
    }
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(refuse("a field name after each ."));
            }
            segments.push(Segment::Field(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| refuse("[ closed by ]"))?;
            let index = after[..end].parse().map_err(|_| refuse("an index [n] of digits"))?;
            segments.push(Segment::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err(refuse("$, then .field or [n] steps"));
        }
    }
    Ok(segments)
}

/// The value at `path` in `value`, if any.
///
/// # Errors
/// [`Error::Validation`] for a path this reader does not take.
pub fn read_path<'a>(value: &'a Value, path: &str) -> Result<Option<&'a Value>> {
    let mut at = value;
    for segment in parse(path, path)? {
        let next = match segment {
            Segment::Field(name) => at.get(&name),
            Segment::Index(n) => at.get(n),
        };
        match next {
            Some(v) => at = v,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// Puts `value` at `path` in `target` (`$` replaces it), making objects on the way.
///
/// # Errors
/// [`Error::Validation`] for a path with an index or one this reader does not take.
pub fn write_path(target: &mut Value, path: &str, value: Value) -> Result<()> {
    let mut at = target;
    for segment in parse(path, path)? {
        let Segment::Field(name) = segment else {
            return Err(Error::validation("ResultPath", path, "fields only, no [n]"));
        };
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(fields) = at else {
            return Err(Error::validation("ResultPath", path, "an object to write into"));
        };
        at = fields.entry(name).or_insert(Value::Null);
    }
    *at = value;
    Ok(())
}

/// `template` with every `"Key.$": "path"` field replaced by `"Key": <value at path in input>`.
///
/// # Errors
/// [`Error::Validation`] naming the field, for a path that finds nothing.
pub fn resolve(template: &Value, input: &Value, at: &str) -> Result<Value> {
    Ok(match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                let here = format!("{at}.{key}");
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(path)) => {
                        let found = read_path(input, path).map_err(|e| relabel(e, &here))?;
                        let found = found
                            .ok_or_else(|| Error::validation(&here, path, "finds nothing in the state's input"))?;
                        out.insert(name.to_string(), found.clone());
                    }
                    (Some(_), _) => return Err(Error::validation(&here, "", "a path (text) after a .$ key")),
                    (None, value) => {
                        out.insert(key.clone(), resolve(value, input, &here)?);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(n, v)| resolve(v, input, &format!("{at}[{n}]"))).collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn relabel(e: Error, at: &str) -> Error {
    match e {
        Error::Validation(v) => Error::validation(at, v.value, v.rule),
        other => other,
    }
}

/// Every `.$` field holds a path this reader takes.
pub(super) fn check_paths(template: &Value, at: &str) -> Result<()> {
    match template {
        Value::Object(fields) => fields.iter().try_for_each(|(key, value)| {
            let here = format!("{at}.{key}");
            match (key.ends_with(".$"), value) {
                (true, Value::String(path)) => parse(path, &here).map(|_| ()),
                (true, _) => Err(Error::validation(&here, "", "a path (text) after a .$ key")),
                (false, value) => check_paths(value, &here),
            }
        }),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(n, v)| check_paths(v, &format!("{at}[{n}]"))),
        _ => Ok(()),
    }
}
