//! One declared parameter and the check of a value against its constraints.

use super::doc::Node;
use super::pattern::Pattern;
use super::types::{ParamType, parse_number};
use crate::error::ValidationError;
use serde::{Serialize, Serializer};

/// A parameter as the template declares it.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// The logical name.
    pub name: String,
    /// The declared type.
    #[serde(rename = "type", serialize_with = "display")]
    pub param_type: ParamType,
    /// `Default`, as a string.
    pub default: Option<String>,
    /// `AllowedValues`.
    pub allowed_values: Option<Vec<String>>,
    /// `AllowedPattern`.
    pub allowed_pattern: Option<String>,
    /// `MinLength`.
    pub min_length: Option<u64>,
    /// `MaxLength`.
    pub max_length: Option<u64>,
    /// `MinValue`.
    #[serde(serialize_with = "number")]
    pub min_value: Option<f64>,
    /// `MaxValue`.
    #[serde(serialize_with = "number")]
    pub max_value: Option<f64>,
    /// `NoEcho`: the value is a secret.
    pub no_echo: bool,
    /// `Description`.
    pub description: Option<String>,
    /// `ConstraintDescription`.
    pub constraint_description: Option<String>,
    #[serde(skip)]
    pattern: Option<Pattern>,
}

fn display<S: Serializer>(t: &ParamType, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Whole numbers print without a fraction (`1`, not `1.0`).
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => s.serialize_i64(n as i64),
        Some(n) => s.serialize_f64(n),
        None => s.serialize_none(),
    }
}

/// Shown instead of a NoEcho value.
pub(crate) const REDACTED: &str = "****";

impl Parameter {
    pub(crate) fn from_node(name: &str, decl: &Node) -> Result<Parameter, String> {
        let Node::Map(_) = decl else {
            return Err(format!("parameter {name} must be a mapping, found {}", decl.kind()));
        };
        let text = |key: &str| -> Result<Option<String>, String> {
            match decl.get(key) {
                None | Some(Node::Null) => Ok(None),
                Some(Node::Scalar(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("parameter {name}: {key} must be a scalar, found {}", other.kind())),
            }
        };
        let type_name = text("Type")?.ok_or_else(|| format!("parameter {name} has no Type"))?;
        let param_type = ParamType::parse(&type_name).ok_or_else(|| {
            format!(
                "parameter {name} has unknown Type {type_name:?} (expected String, Number, List<Number>, \
                 CommaDelimitedList, an AWS-specific type or AWS::SSM::Parameter::Value<…>)"
            )
        })?;
        let length = |key: &str| -> Result<Option<u64>, String> {
            text(key)?
                .map(|v| v.parse::<u64>().map_err(|_| format!("parameter {name}: {key} {v:?} is not a whole number")))
                .transpose()
        };
        let value = |key: &str| -> Result<Option<f64>, String> {
            text(key)?
                .map(|v| parse_number(&v).ok_or_else(|| format!("parameter {name}: {key} {v:?} is not a number")))
                .transpose()
        };
        let allowed_values = match decl.get("AllowedValues") {
            None | Some(Node::Null) => None,
            Some(Node::Seq(items)) => Some(
                items
                    .iter()
                    .map(|i| match i {
                        Node::Scalar(s) => Ok(s.clone()),
                        Node::Null => Ok(String::new()),
                        other => Err(format!("parameter {name}: AllowedValues holds {}", other.kind())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(format!("parameter {name}: AllowedValues must be a list, found {}", other.kind()));
            }
        };
        let allowed_pattern = text("AllowedPattern")?;
        let pattern = allowed_pattern.as_deref().map(Pattern::compile);
        let no_echo = match text("NoEcho")?.as_deref() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(format!("parameter {name}: NoEcho {v:?} must be true or false"));
            }
        };
        Ok(Parameter {
            name: name.to_string(),
            param_type,
            default: text("Default")?,
            allowed_values,
            allowed_pattern,
            min_length: length("MinLength")?,
            max_length: length("MaxLength")?,
            min_value: value("MinValue")?,
            max_value: value("MaxValue")?,
            no_echo,
            description: text("Description")?,
            constraint_description: text("ConstraintDescription")?,
            pattern,
        })
    }

    /// A warning when the `AllowedPattern` cannot be checked here (values are then not
    /// checked against it; CloudFormation still is).
    pub fn pattern_warning(&self) -> Option<String> {
        let why = self.pattern.as_ref()?.unchecked()?;
        Some(format!("parameter {}: AllowedPattern is not checked here ({why})", self.name))
    }

    /// Checks a value against the declared type and constraints, as CloudFormation would.
    ///
    /// List types check each comma-separated element against the type, `AllowedValues`,
    /// `AllowedPattern` and the value range; lengths apply to the whole value.
    ///
    /// # Errors
    /// A [`ValidationError`] naming this parameter, the value (redacted when `NoEcho`) and
    /// the rule, with the template's `ConstraintDescription` when it has one.
    pub fn check(&self, value: &str) -> Result<(), ValidationError> {
        self.check_rule(value).map_err(|rule| {
            let rule = match &self.constraint_description {
                Some(d) => format!("{rule} ({d})"),
                None => rule,
            };
            let shown = if self.no_echo { REDACTED.to_string() } else { value.to_string() };
            ValidationError::new(&self.name, shown, rule)
        })
    }

    fn check_rule(&self, value: &str) -> Result<(), String> {
        let len = value.chars().count() as u64;
        if let Some(min) = self.min_length
            && len < min
        {
            return Err(format!("MinLength {min} (the value has {len} characters)"));
        }
        if let Some(max) = self.max_length
            && len > max
        {
            return Err(format!("MaxLength {max} (the value has {len} characters)"));
        }
        if self.param_type.is_list() {
            if value.is_empty() {
                return Ok(());
            }
            value.split(',').try_for_each(|item| self.check_item(item.trim()))
        } else {
            self.check_item(value)
        }
    }

    fn check_item(&self, item: &str) -> Result<(), String> {
        match &self.param_type {
            ParamType::Aws(t) | ParamType::AwsList(t) => t.check(item)?,
            _ => {}
        }
        if self.param_type.is_numeric() {
            let n = parse_number(item).ok_or_else(|| format!("Type {} (not a number)", self.param_type))?;
            if let Some(min) = self.min_value
                && n < min
            {
                return Err(format!("MinValue {min}"));
            }
            if let Some(max) = self.max_value
                && n > max
            {
                return Err(format!("MaxValue {max}"));
            }
        }
        if let Some(allowed) = &self.allowed_values
            && !allowed.iter().any(|a| a == item)
        {
            return Err(format!("AllowedValues [{}]", allowed.join(", ")));
        }
        if let (Some(re), Some(p)) = (&self.pattern, &self.allowed_pattern)
            && !re.matches(item)
        {
            return Err(format!("AllowedPattern {p}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse_yaml;

    fn param(decl: &str) -> Parameter {
        Parameter::from_node("P", &parse_yaml(decl).unwrap()).unwrap()
    }

    #[test]
    fn constraints() {
        let p = param("{Type: String, MinLength: 20, MaxLength: 40, AllowedPattern: '[a-zA-Z0-9\\-]+'}");
        assert!(p.check("abcdefghij-0123456789").is_ok());
        let e = p.check(&"a".repeat(41)).unwrap_err();
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("P", "MaxLength 40 (the value has 41 characters)"));
        assert!(p.check("short").unwrap_err().rule.starts_with("MinLength 20"));
        assert!(p.check("has_underscore_in_the_name").unwrap_err().rule.starts_with("AllowedPattern"));
        // The pattern matches the whole value, not a part of it.
        assert!(p.check("abcdefghij-0123456789 !").is_err());

        let n = param("{Type: Number, MinValue: 0.01, MaxValue: 12}");
        assert!(n.check("1.064").is_ok());
        assert_eq!(n.check("12.5").unwrap_err().rule, "MaxValue 12");
        assert_eq!(n.check("0").unwrap_err().rule, "MinValue 0.01");
        assert_eq!(n.check("cheap").unwrap_err().rule, "Type Number (not a number)");

        let v = param("{Type: String, AllowedValues: [ON_DEMAND, SPOT], ConstraintDescription: pick one}");
        assert_eq!(v.check("spot").unwrap_err().rule, "AllowedValues [ON_DEMAND, SPOT] (pick one)");

        let l = param("{Type: 'List<AWS::EC2::SecurityGroup::Id>'}");
        assert!(l.check("sg-11111111,sg-00000000").is_ok());
        assert!(l.check("sg-11111111,default").unwrap_err().rule.contains("sg- followed by"));

        let ln = param("{Type: 'List<Number>', MaxValue: 5}");
        assert!(ln.check("1,2,3").is_ok());
        assert_eq!(ln.check("1,9").unwrap_err().rule, "MaxValue 5");
    }

    #[test]
    fn no_echo_values_are_redacted_in_errors() {
        let p = param("{Type: String, NoEcho: true, MinLength: 12}");
        let e = p.check("hunter2").unwrap_err();
        assert_eq!(e.value, REDACTED);
        assert!(!e.to_string().contains("hunter2"));
    }
}
