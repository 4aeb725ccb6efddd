//! What the stored stack spec leaves out, put back only when CreateStack is sent: the
//! launch's progress secret in the user data, and NoEcho values from the catalog.

use super::{Shared, progress};
use crate::error::{Error, Result};
use crate::lifecycle::Resource;
use crate::model::{ConfigKind, ParamRef, StackSpec, USER_DATA_KEY};
use base64::Engine as _;

impl Shared {
    /// The CreateStack request for `r`, with its secrets.
    ///
    /// # Errors
    /// [`Error::Validation`] when a NoEcho param is gone from the catalog or the stored user
    /// data is not base64 (both mean the launch cannot be sent as planned).
    pub(crate) fn outgoing_stack(&self, r: &Resource) -> Result<StackSpec> {
        let mut spec = StackSpec::clone(&r.stack);
        for p in &mut spec.parameters {
            if let Some(from) = &p.from {
                p.value = self.catalog_value(from)?.into();
            } else if p.key == USER_DATA_KEY && r.progress_bar {
                p.value = self.with_secret(r, &p.value)?.into();
            }
        }
        Ok(spec)
    }

    fn catalog_value(&self, from: &ParamRef) -> Result<String> {
        let catalog = self.planner.catalog();
        let params = match from.config {
            ConfigKind::GroupConfig => &catalog.group_config(&from.name)?.params,
            ConfigKind::SoftwareConfig => &catalog.software_config(&from.name)?.params,
        };
        params.iter().find(|p| p.token == from.token).map(|p| p.value.clone()).ok_or_else(|| {
            Error::validation(
                format!("{:?} {}.params", from.config, from.name),
                &from.token,
                "the NoEcho param this launch was planned with is no longer in the catalog",
            )
        })
    }

    fn with_secret(&self, r: &Resource, encoded: &str) -> Result<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = || Error::validation(USER_DATA_KEY, "stored user data", "must be base64 of UTF-8 text");
        let text = String::from_utf8(b64.decode(encoded).map_err(|_| bad())?).map_err(|_| bad())?;
        let secret = progress::derive(&self.progress_key, &r.id);
        Ok(b64.encode(text.replace(progress::PLACEHOLDER, secret.expose())))
    }
}
