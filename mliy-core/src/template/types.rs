//! CloudFormation parameter types and the shapes of AWS-specific values.

use std::fmt;

/// An AWS-specific value type whose shape can be checked offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AwsType {
    /// `AWS::EC2::AvailabilityZone::Name`, e.g. `us-east-1a`.
    AvailabilityZone,
    /// `AWS::EC2::Image::Id`, e.g. `ami-0abcdef1234567890`.
    ImageId,
    /// `AWS::EC2::Instance::Id`.
    InstanceId,
    /// `AWS::EC2::KeyPair::KeyName`: 1–255 ASCII characters.
    KeyPairName,
    /// `AWS::EC2::SecurityGroup::GroupName`: 1–255 characters.
    SecurityGroupName,
    /// `AWS::EC2::SecurityGroup::Id`, e.g. `sg-12345678`.
    SecurityGroupId,
    /// `AWS::EC2::Subnet::Id`.
    SubnetId,
    /// `AWS::EC2::Volume::Id`.
    VolumeId,
    /// `AWS::EC2::VPC::Id`.
    VpcId,
    /// `AWS::Route53::HostedZone::Id`.
    HostedZoneId,
    /// `AWS::SSM::Parameter::Name`.
    SsmParameterName,
}

const AWS_TYPES: &[(&str, AwsType)] = &[
    ("AWS::EC2::AvailabilityZone::Name", AwsType::AvailabilityZone),
    ("AWS::EC2::Image::Id", AwsType::ImageId),
    ("AWS::EC2::Instance::Id", AwsType::InstanceId),
    ("AWS::EC2::KeyPair::KeyName", AwsType::KeyPairName),
    ("AWS::EC2::SecurityGroup::GroupName", AwsType::SecurityGroupName),
    ("AWS::EC2::SecurityGroup::Id", AwsType::SecurityGroupId),
    ("AWS::EC2::Subnet::Id", AwsType::SubnetId),
    ("AWS::EC2::Volume::Id", AwsType::VolumeId),
    ("AWS::EC2::VPC::Id", AwsType::VpcId),
    ("AWS::Route53::HostedZone::Id", AwsType::HostedZoneId),
    ("AWS::SSM::Parameter::Name", AwsType::SsmParameterName),
];

impl AwsType {
    /// The CloudFormation type name.
    pub fn name(self) -> &'static str {
        AWS_TYPES.iter().find(|(_, t)| *t == self).map_or("", |(n, _)| n)
    }

    /// Checks one value's shape; `Err` holds the rule it breaks.
    pub fn check(self, value: &str) -> Result<(), String> {
        let ok = match self {
            AwsType::AvailabilityZone => availability_zone(value),
            AwsType::ImageId => hex_id(value, "ami-"),
            AwsType::InstanceId => hex_id(value, "i-"),
            AwsType::SecurityGroupId => hex_id(value, "sg-"),
            AwsType::SubnetId => hex_id(value, "subnet-"),
            AwsType::VolumeId => hex_id(value, "vol-"),
            AwsType::VpcId => hex_id(value, "vpc-"),
            AwsType::KeyPairName => (1..=255).contains(&value.len()) && value.is_ascii(),
            AwsType::SecurityGroupName => (1..=255).contains(&value.chars().count()),
            AwsType::HostedZoneId => {
                value.len() > 1
                    && value.starts_with('Z')
                    && value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }
            AwsType::SsmParameterName => (1..=2048).contains(&value.len()),
        };
        if ok { Ok(()) } else { Err(format!("{} {}", self.name(), self.shape())) }
    }

    fn shape(self) -> &'static str {
        match self {
            AwsType::AvailabilityZone => "must look like us-east-1a",
            AwsType::ImageId => "must be ami- followed by 8 or 17 hex digits",
            AwsType::InstanceId => "must be i- followed by 8 or 17 hex digits",
            AwsType::SecurityGroupId => "must be sg- followed by 8 or 17 hex digits",
            AwsType::SubnetId => "must be subnet- followed by 8 or 17 hex digits",
            AwsType::VolumeId => "must be vol- followed by 8 or 17 hex digits",
            AwsType::VpcId => "must be vpc- followed by 8 or 17 hex digits",
            AwsType::KeyPairName => "must be 1 to 255 ASCII characters",
            AwsType::SecurityGroupName => "must be 1 to 255 characters",
            AwsType::HostedZoneId => "must be Z followed by upper-case letters and digits",
            AwsType::SsmParameterName => "must be 1 to 2048 characters",
        }
    }
}

fn hex_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        matches!(rest.len(), 8 | 17) && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `us-east-1a`, `us-gov-west-1b`, `us-west-2-lax-1a`: dash-separated lower-case words and
/// numbers, a region number, then the zone letter.
fn availability_zone(value: &str) -> bool {
    let Some(body) = value.strip_suffix(|c: char| c.is_ascii_lowercase()) else {
        return false;
    };
    let parts: Vec<&str> = body.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// A parameter's declared `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamType {
    /// `String`.
    String,
    /// `Number`: an integer or a decimal.
    Number,
    /// `List<Number>`.
    NumberList,
    /// `CommaDelimitedList`.
    CommaDelimitedList,
    /// An AWS-specific type such as `AWS::EC2::Subnet::Id`.
    Aws(AwsType),
    /// `List<…>` of an AWS-specific type.
    AwsList(AwsType),
    /// `AWS::SSM::Parameter::Value<…>`: resolved by CloudFormation, so the value is a
    /// parameter name.
    SsmValue(String),
}

impl ParamType {
    /// Parses a `Type`; `None` for a type CloudFormation does not define.
    pub fn parse(text: &str) -> Option<ParamType> {
        let aws = |name: &str| AWS_TYPES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        Some(match text {
            "String" => ParamType::String,
            "Number" => ParamType::Number,
            "List<Number>" => ParamType::NumberList,
            "CommaDelimitedList" => ParamType::CommaDelimitedList,
            _ => {
                if let Some(inner) = text.strip_prefix("AWS::SSM::Parameter::Value<").and_then(|r| r.strip_suffix('>'))
                {
                    ParamType::SsmValue(inner.to_string())
                } else if let Some(inner) = text.strip_prefix("List<").and_then(|r| r.strip_suffix('>')) {
                    ParamType::AwsList(aws(inner)?)
                } else {
                    ParamType::Aws(aws(text)?)
                }
            }
        })
    }

    /// Whether the value is a comma-separated list.
    pub fn is_list(&self) -> bool {
        matches!(self, ParamType::NumberList | ParamType::CommaDelimitedList | ParamType::AwsList(_))
    }

    /// Whether elements are numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(self, ParamType::Number | ParamType::NumberList)
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::String => f.write_str("String"),
            ParamType::Number => f.write_str("Number"),
            ParamType::NumberList => f.write_str("List<Number>"),
            ParamType::CommaDelimitedList => f.write_str("CommaDelimitedList"),
            ParamType::Aws(t) => f.write_str(t.name()),
            ParamType::AwsList(t) => write!(f, "List<{}>", t.name()),
            ParamType::SsmValue(inner) => write!(f, "AWS::SSM::Parameter::Value<{inner}>"),
        }
    }
}

/// Parses a CloudFormation number (`12`, `-3`, `0.01`, `1.5e3`); `None` if it is not one.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || !exp_ok {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_print() {
        for t in [
            "String",
            "Number",
            "List<Number>",
            "CommaDelimitedList",
            "AWS::EC2::Subnet::Id",
            "List<AWS::EC2::SecurityGroup::Id>",
            "AWS::SSM::Parameter::Value<String>",
        ] {
            assert_eq!(ParamType::parse(t).map(|p| p.to_string()).as_deref(), Some(t));
        }
        assert_eq!(ParamType::parse("string"), None);
        assert_eq!(ParamType::parse("List<String>"), None);
        assert_eq!(ParamType::parse("AWS::EC2::Bogus::Id"), None);
    }

    #[test]
    fn aws_shapes() {
        assert!(AwsType::SecurityGroupId.check("sg-11111111").is_ok());
        assert!(AwsType::SecurityGroupId.check("sg-0123456789abcdef0").is_ok());
        assert!(AwsType::SecurityGroupId.check("sg-1234").is_err());
        assert!(AwsType::ImageId.check("ami-id").is_err());
        assert!(AwsType::SubnetId.check("subnet-0a1b2c3d").is_ok());
        assert!(AwsType::AvailabilityZone.check("us-east-1a").is_ok());
        assert!(AwsType::AvailabilityZone.check("us-gov-west-1b").is_ok());
        assert!(AwsType::AvailabilityZone.check("us-west-2-lax-1a").is_ok());
        assert!(AwsType::AvailabilityZone.check("us-east-1").is_err());
        assert!(AwsType::AvailabilityZone.check("US-EAST-1A").is_err());
        assert!(AwsType::KeyPairName.check("").is_err());
        let e = AwsType::ImageId.check("ami-id").unwrap_err();
        assert!(e.contains("AWS::EC2::Image::Id"), "{e}");
    }

    #[test]
    fn numbers() {
        for ok in ["0", "12", "-3", "0.01", "1.064", "1.5e3", ".5", "5."] {
            assert!(parse_number(ok).is_some(), "{ok}");
        }
        for bad in ["", "-", "abc", "1,5", "inf", "NaN", "1e", "0x10", "1 ", "1e999"] {
            assert!(parse_number(bad).is_none(), "{bad}");
        }
    }
}
