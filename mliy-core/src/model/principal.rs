//! Who is acting.

use serde::{Deserialize, Serialize};

/// An authenticated user, as an `AuthProvider` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The login name, e.g. `dana.o'neil`.
    pub username: String,
    /// The name people see, e.g. `Dana O'Neil`.
    #[serde(default)]
    pub display_name: String,
    /// E-mail address, when the directory has one.
    #[serde(default)]
    pub email: Option<String>,
    /// Groups: names or distinguished names, as the directory gives them.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether the principal administers everything.
    #[serde(default)]
    pub admin: bool,
}

impl Principal {
    /// A principal with a username and groups, no display name and no admin right.
    pub fn new(username: impl Into<String>, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Principal {
            username: username.into(),
            display_name: String::new(),
            email: None,
            groups: groups.into_iter().map(Into::into).collect(),
            admin: false,
        }
    }

    /// The display name, or the username when there is none.
    pub fn shown_name(&self) -> &str {
        if self.display_name.trim().is_empty() { &self.username } else { &self.display_name }
    }
}
