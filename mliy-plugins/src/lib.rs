//! I/O implementations of mliy's plugin traits, one Cargo feature each.
//!
//! | feature    | provides                                             |
//! |------------|------------------------------------------------------|
//! | `aws`      | `Cloud` over the AWS SDK (CloudFormation, EC2, EMR, SSM) |
//! | `route53`  | `DnsProvider` over Route53                           |
//! | `dns-api`  | `DnsProvider` over a REST DNS API                    |
//! | `ldap`     | `AuthProvider` over LDAP / Active Directory          |
//! | `sqlite`   | `StateStore` over SQLite                             |
//! | `postgres` | `StateStore` over PostgreSQL                         |
//!
//! The backends land feature by feature; this crate re-exports [`mliy_core`] so that a
//! user depends on one crate.

pub use mliy_core;
