//! Who may see and act on a resource: its owner, a group manager of a group the owner is in,
//! or an admin.

use crate::error::{Error, Result};
use crate::lifecycle::Resource;
use crate::model::{Principal, normalize_dn};

/// Rejects a principal without a username: nobody authenticated it.
pub(crate) fn authenticated(principal: &Principal) -> Result<()> {
    if principal.username.trim().is_empty() {
        return Err(Error::Unauthenticated("no authenticated principal".into()));
    }
    Ok(())
}

/// Rejects a principal that is not an authenticated admin, naming what it may not `do`.
pub(crate) fn admin(principal: &Principal, what: &str) -> Result<()> {
    authenticated(principal)?;
    if !principal.admin {
        return Err(Error::Forbidden(format!("{} may not {what}: admins only", principal.username)));
    }
    Ok(())
}

fn same_group(a: &str, b: &str) -> bool {
    normalize_dn(a) == normalize_dn(b)
}

/// Whether `principal` manages `owner_groups`' members: it is in the manager group and
/// shares another group with the owner.
fn manages(principal: &Principal, owner_groups: &[String], manager_group: Option<&str>) -> bool {
    let Some(manager) = manager_group else { return false };
    principal.groups.iter().any(|g| same_group(g, manager))
        && owner_groups
            .iter()
            .filter(|g| !same_group(g, manager))
            .any(|g| principal.groups.iter().any(|pg| same_group(pg, g)))
}

/// Whether `principal` sees only its own resources (neither an admin nor a manager), so a
/// listing may ask the store for the owner's alone.
pub(crate) fn sees_only_own(principal: &Principal, manager_group: Option<&str>) -> bool {
    !principal.admin && manager_group.is_none_or(|m| !principal.groups.iter().any(|g| same_group(g, m)))
}

/// Whether `principal` may see and act on `resource`.
pub(crate) fn may_access(principal: &Principal, resource: &Resource, manager_group: Option<&str>) -> bool {
    may_see(principal, &resource.owner, &resource.owner_groups, manager_group)
}

/// Whether `principal` may see what `owner` (a member of `owner_groups`) launched.
pub(crate) fn may_see(
    principal: &Principal,
    owner: &str,
    owner_groups: &[String],
    manager_group: Option<&str>,
) -> bool {
    !principal.username.trim().is_empty()
        && (principal.admin || principal.username == owner || manages(principal, owner_groups, manager_group))
}

/// Fails with [`Error::Forbidden`] unless `principal` may access `resource`.
pub(crate) fn check(principal: &Principal, resource: &Resource, manager_group: Option<&str>) -> Result<()> {
    authenticated(principal)?;
    if may_access(principal, resource, manager_group) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("{} may not access resource {}", principal.username, resource.id)))
    }
}
