//! Tables for people: columns padded to their widest cell.

use mliy::lifecycle::{LifecycleEvent, Resource};

/// `headers` and `rows` as aligned text, one line each.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// The resources listing.
pub(crate) fn resources(list: &[Resource]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.owner.clone(),
                r.kind.name().into(),
                r.software_config.clone(),
                r.instance_type.clone(),
                r.phase.to_string(),
                dash(&r.private_ip),
                dash(&r.dns_name),
            ]
        })
        .collect();
    table(&["ID", "OWNER", "KIND", "SOFTWARE", "TYPE", "PHASE", "IP", "DNS"], &rows)
}

/// One resource, field by field.
pub(crate) fn resource(r: &Resource) -> String {
    let rows = vec![
        vec!["id".into(), r.id.to_string()],
        vec!["owner".into(), r.owner.clone()],
        vec!["kind".into(), r.kind.name().into()],
        vec!["group config".into(), r.group_config.clone()],
        vec!["software config".into(), r.software_config.clone()],
        vec!["instance type".into(), r.instance_type.clone()],
        vec!["phase".into(), r.phase.to_string()],
        vec!["stack".into(), dash(&r.stack_id)],
        vec!["instance".into(), dash(&r.instance_id)],
        vec!["cluster".into(), dash(&r.cluster_id)],
        vec!["private ip".into(), dash(&r.private_ip)],
        vec!["dns name".into(), dash(&r.dns_name)],
        vec!["archived".into(), r.archived.to_string()],
    ];
    table(&["FIELD", "VALUE"], &rows)
}

/// A resource's history.
pub(crate) fn events(list: &[LifecycleEvent]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| vec![e.seq.to_string(), e.at.utc(), actor(&e.actor), e.to.name().into(), e.reason.clone()])
        .collect();
    table(&["SEQ", "AT", "BY", "PHASE", "REASON"], &rows)
}

fn actor(a: &mliy::lifecycle::Actor) -> String {
    use mliy::lifecycle::Actor;
    match a {
        Actor::User(name) => name.clone(),
        Actor::Engine => "engine".into(),
        Actor::Bootstrap => "bootstrap".into(),
    }
}
