//! Stack names, cluster names and tags, as MLiy made them but always valid.

use crate::error::{Error, Result};
use crate::model::{LaunchId, Market, Tag};

/// CloudFormation's longest stack name.
const MAX_STACK_NAME: usize = 128;
/// EC2/CloudFormation limits on tags.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// Replaces every character outside `[A-Za-z0-9-]` by `-`.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect()
}

/// Makes a name start with a letter, as stack names must.
fn lead_with_letter(name: String) -> String {
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) { name } else { format!("mliy-{name}") }
}

/// `{prefix}{ags}-{launch id}`, where MLiy used `AWSLXMliy-{ags}{uuid}`.
pub(crate) fn instance_stack_name(prefix: &str, ags: &str, id: &LaunchId) -> String {
    let prefix = if prefix.is_empty() { "AWSLXMliy-" } else { prefix };
    let head = lead_with_letter(sanitize(&format!("{prefix}{ags}")));
    let room = MAX_STACK_NAME - id.as_str().len() - 1;
    format!("{}-{id}", head.chars().take(room).collect::<String>().trim_end_matches('-'))
}

/// `{prefix}-{MARKET}-{launch id}-{user}` fitted to `min..=max` characters of
/// `[A-Za-z0-9-]`. The launch id is always kept whole; the prefix and then the user name are
/// shortened, and a short name is padded with `0`.
pub(crate) fn cluster_name(prefix: &str, market: &Market, id: &LaunchId, user: &str, min: usize, max: usize) -> String {
    let prefix = if prefix.is_empty() { "mliy" } else { prefix };
    let core = sanitize(&format!("-{}-{id}", market.emr_name()));
    let mut head = lead_with_letter(sanitize(prefix));
    let room = max.saturating_sub(core.len()).max(1);
    head.truncate(room);
    let mut name = format!("{head}{core}-{}", sanitize(user));
    name.truncate(max.max(core.len() + 1));
    let mut name = name.trim_end_matches('-').to_string();
    while name.len() < min {
        name.push('0');
    }
    name
}

/// Checks tag sizes.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<()> {
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > MAX_TAG_KEY || t.key.starts_with("aws:") {
            return Err(Error::validation(
                "tags",
                &t.key,
                "a tag key has 1 to 128 characters and does not start with aws:",
            ));
        }
        if t.value.chars().count() > MAX_TAG_VALUE {
            return Err(Error::validation(
                format!("tag {}", t.key),
                &t.value,
                "a tag value has at most 256 characters",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> LaunchId {
        LaunchId::parse("0123456789ab").unwrap()
    }

    #[test]
    fn instance_stack_names() {
        assert_eq!(instance_stack_name("", "MLiy", &id()), "AWSLXMliy-MLiy-0123456789ab");
        assert_eq!(instance_stack_name("AWSLXMLiyTST", "MLiy", &id()), "AWSLXMLiyTSTMLiy-0123456789ab");
        assert_eq!(instance_stack_name("9 lives_", "", &id()), "mliy-9-lives-0123456789ab");
        let long = instance_stack_name(&"x".repeat(300), "a", &id());
        assert_eq!(long.len(), 128);
        assert!(long.ends_with("-0123456789ab"));
    }

    #[test]
    fn cluster_names_fit_the_template_rule() {
        let n = cluster_name("AWSLXMLIYTST", &Market::Spot { bid: None }, &id(), "dana.o'neil", 20, 40);
        assert_eq!(n, "AWSLXMLIYTST-SPOT-0123456789ab-dana-o-ne");
        let n = cluster_name("x", &Market::OnDemand, &id(), "", 20, 40);
        assert_eq!(n, "x-ON-DEMAND-0123456789ab");
        let n = cluster_name(&"p".repeat(60), &Market::OnDemand, &id(), "u", 20, 40);
        assert_eq!(n.len(), 40);
        assert!(n.contains("-ON-DEMAND-0123456789ab"));
        let n = cluster_name("a", &Market::Spot { bid: None }, &LaunchId::parse("1").unwrap(), "", 20, 40);
        assert_eq!(n, "a-SPOT-1000000000000");
    }

    proptest! {
        #[test]
        fn cluster_names_always_fit(prefix in ".{0,60}", user in ".{0,60}") {
            let n = cluster_name(&prefix, &Market::OnDemand, &id(), &user, 20, 40);
            prop_assert!((20..=40).contains(&n.len()), "{}", n);
            prop_assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            prop_assert!(n.starts_with(|c: char| c.is_ascii_alphabetic()));
            prop_assert!(n.contains("0123456789ab"));
        }
    }
}
