//! I/O implementations of mliy's plugin traits, one Cargo feature each.
//!
//! | feature    | provides                                             |
//! |------------|------------------------------------------------------|
//! | `aws`      | [`Cloud`](mliy_core::cloud::Cloud) over the AWS SDK (CloudFormation, EC2, EMR, SSM): `aws::AwsCloud` |
//! | `route53`  | [`DnsProvider`](mliy_core::dns::DnsProvider) over Route53: `route53::Route53Dns` |
//! | `s3`       | [`ObjectStore`](mliy_core::objects::ObjectStore) over S3: `s3::S3Objects` (catalog sync, datasets, notebook lineage) |
//! | `dns-api`  | [`DnsProvider`](mliy_core::dns::DnsProvider) over a REST DNS API: `rest_dns::RestDns` |
//! | `ldap`     | [`AuthProvider`](mliy_core::auth::AuthProvider) over LDAP / Active Directory: `ldap::LdapAuth` |
//! | `sqlite`   | `StateStore` over SQLite: `sqlite::SqliteStore`      |
//! | `postgres` | `StateStore` over PostgreSQL: `postgres::PostgresStore` |
//!
//! The crate re-exports [`mliy_core`] so that a user depends on one crate.

pub use mliy_core;

#[cfg(feature = "aws-common")]
pub mod aws;

#[cfg(feature = "ldap")]
pub mod ldap;

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "dns-api")]
pub mod rest_dns;
#[cfg(feature = "route53")]
pub mod route53;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "sql")]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
