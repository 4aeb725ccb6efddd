//! The schema, as numbered migrations per dialect. Only the DDL differs between SQLite and
//! PostgreSQL; every query is shared.
//!
//! Resources, events and billing segments are separate tables with no foreign keys: deleting
//! a catalog entry (or anything else) never cascades into history.

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(all(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Migrations, applied in order, each once.
pub(crate) fn migrations(dialect: Dialect) -> Vec<(i64, Vec<String>)> {
    let serial = match dialect {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    vec![(
        1,
        vec![
            "CREATE TABLE IF NOT EXISTS mliy_resources (
                id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                version BIGINT NOT NULL,
                needs_driving BOOLEAN NOT NULL,
                archived BOOLEAN NOT NULL,
                created_ms BIGINT NOT NULL,
                pos BIGINT NOT NULL,
                body TEXT NOT NULL)"
                .to_string(),
            "CREATE INDEX IF NOT EXISTS mliy_resources_owner ON mliy_resources (owner)".to_string(),
            "CREATE INDEX IF NOT EXISTS mliy_resources_driving ON mliy_resources (needs_driving)".to_string(),
            format!(
                "CREATE TABLE IF NOT EXISTS mliy_events (
                    pos {serial},
                    resource TEXT NOT NULL,
                    seq BIGINT NOT NULL,
                    body TEXT NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS mliy_events_resource ON mliy_events (resource, pos)".to_string(),
            format!(
                "CREATE TABLE IF NOT EXISTS mliy_billing (
                    pos {serial},
                    resource TEXT NOT NULL,
                    start_ms BIGINT NOT NULL,
                    end_ms BIGINT,
                    body TEXT NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS mliy_billing_resource ON mliy_billing (resource)".to_string(),
            "CREATE TABLE IF NOT EXISTS mliy_keys (key TEXT PRIMARY KEY, value TEXT NOT NULL)".to_string(),
            "CREATE TABLE IF NOT EXISTS mliy_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until_ms BIGINT NOT NULL)"
                .to_string(),
            "CREATE TABLE IF NOT EXISTS mliy_catalog (id BIGINT PRIMARY KEY, body TEXT NOT NULL)".to_string(),
        ],
    ), (
        2,
        vec![
            // One open billing segment per resource. Duplicates a race left are closed at
            // their start (costing nothing), keeping the newest open.
            "UPDATE mliy_billing SET end_ms = start_ms WHERE end_ms IS NULL AND pos NOT IN \
             (SELECT MAX(pos) FROM mliy_billing WHERE end_ms IS NULL GROUP BY resource)"
                .to_string(),
            "CREATE UNIQUE INDEX IF NOT EXISTS mliy_billing_one_open ON mliy_billing (resource) WHERE end_ms IS NULL"
                .to_string(),
        ],
    ), (
        3,
        vec![
            // An insert takes MAX(pos) + 1: without an index each one read the whole table.
            "CREATE INDEX IF NOT EXISTS mliy_resources_pos ON mliy_resources (pos)".to_string(),
            // One owner's resources in listing order, read through the index.
            "CREATE INDEX IF NOT EXISTS mliy_resources_owner_order ON mliy_resources (owner, created_ms, pos)".to_string(),
        ],
    ), (4, phase_columns(dialect))]
}

/// Kind, phase and whether a DNS name is held, as columns read from each record, and the
/// indexes a page of one phase is read through (refresh, one owner's listing, DNS retries).
fn phase_columns(dialect: Dialect) -> Vec<String> {
    let (kind, phase, dns) = match dialect {
        Dialect::Sqlite => {
            ("json_extract(body, '$.kind')", "json_extract(body, '$.phase.phase')", "json_extract(body, '$.dns_name')")
        }
        Dialect::Postgres => {
            ("(body::jsonb)->>'kind'", "(body::jsonb)->'phase'->>'phase'", "(body::jsonb)->>'dns_name'")
        }
    };
    let columns =
        ["kind TEXT NOT NULL DEFAULT ''", "phase TEXT NOT NULL DEFAULT ''", "dns_named BOOLEAN NOT NULL DEFAULT FALSE"];
    let mut statements: Vec<String> = columns
        .into_iter()
        .map(|column| match dialect {
            Dialect::Sqlite => format!("ALTER TABLE mliy_resources ADD COLUMN {column}"),
            Dialect::Postgres => format!("ALTER TABLE mliy_resources ADD COLUMN IF NOT EXISTS {column}"),
        })
        .collect();
    statements
        .push(format!("UPDATE mliy_resources SET kind = {kind}, phase = {phase}, dns_named = ({dns} IS NOT NULL)"));
    statements.extend([
        "CREATE INDEX IF NOT EXISTS mliy_resources_phase ON mliy_resources (phase, kind, id)".to_string(),
        "CREATE INDEX IF NOT EXISTS mliy_resources_owner_phase ON mliy_resources (owner, phase, kind, id)".to_string(),
        "CREATE INDEX IF NOT EXISTS mliy_resources_dns ON mliy_resources (phase, kind, id) WHERE dns_named = TRUE"
            .to_string(),
    ]);
    statements
}

/// The table and column an `ALTER TABLE … ADD COLUMN …` adds: SQLite has no `IF NOT
/// EXISTS` for it, so a migration applied again skips a column already there.
pub(crate) fn added_column(statement: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = statement.split_whitespace().take(6).collect();
    match words.as_slice() {
        ["ALTER", "TABLE", table, "ADD", "COLUMN", column] => Some((table, column)),
        _ => None,
    }
}
