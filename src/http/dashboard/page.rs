//! The dashboard's HTML. Every value is escaped; the script reads the page's settings from
//! `data-` attributes and writes user data only as text.

use mliy_core::engine::PricedOffering;
use mliy_core::model::Principal;
use std::fmt::Write;

pub(super) const SCRIPT: &str = include_str!("app.js");
pub(super) const STYLE: &str = include_str!("app.css");

/// `text` safe inside HTML text and double-quoted attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn shell(base: &str, title: &str, body: &str) -> String {
    let b = escape(base);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · mliy</title><link rel=\"stylesheet\" href=\"{b}/assets/app.css\"></head>\
         <body>{body}</body></html>\n",
        escape(title)
    )
}

/// The sign-in form, with an error after a refusal.
pub(super) fn login(base: &str, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<main class=\"narrow\"><h1>Sign in to mliy</h1>{error}\
         <form method=\"post\" action=\"{}/login\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form></main>",
        escape(base)
    );
    shell(base, "Sign in", &body)
}

/// A page with a heading and a sentence.
pub(super) fn message(base: &str, title: &str, text: &str) -> String {
    shell(base, title, &format!("<main class=\"narrow\"><h1>{}</h1><p>{}</p></main>", escape(title), escape(text)))
}

fn header(base: &str, who: &Principal, csrf: &str) -> String {
    let b = escape(base);
    let admin = if who.admin { format!("<a href=\"{b}/admin\">Admin</a>") } else { String::new() };
    let name = if who.display_name.is_empty() { &who.username } else { &who.display_name };
    format!(
        "<header><a class=\"brand\" href=\"{}\">mliy</a><nav>{admin}</nav>\
         <span class=\"who\">Signed in as <strong>{}</strong></span>\
         <form method=\"post\" action=\"{b}/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" class=\"link\">Sign out</button></form></header>",
        if b.is_empty() { "/".to_string() } else { b.clone() },
        escape(name),
        escape(csrf)
    )
}

/// The launch form's choices: one option per offering, its types and prices as data.
fn launch_form(offerings: &[PricedOffering]) -> String {
    if offerings.is_empty() {
        return "<p>There is nothing you may launch.</p>".into();
    }
    let mut options = String::new();
    for (i, o) in offerings.iter().enumerate() {
        let types: Vec<String> = o
            .prices
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.instance_type,
                    p.hourly.map(|d| d.round_dp(4).normalize().to_string()).unwrap_or_default()
                )
            })
            .collect();
        let label = format!("{} — {} ({})", o.offering.software_config, o.offering.group_config, o.offering.kind);
        let _ = write!(
            options,
            "<option value=\"{i}\" data-group=\"{}\" data-software=\"{}\" data-kind=\"{}\" data-types=\"{}\">{}</option>",
            escape(&o.offering.group_config),
            escape(&o.offering.software_config),
            o.offering.kind,
            escape(&types.join(",")),
            escape(&label)
        );
    }
    format!(
        "<form id=\"launch\"><label for=\"offering\">What</label><select id=\"offering\" required>{options}</select>\
         <label for=\"instance-type\">Instance type</label><select id=\"instance-type\" required></select>\
         <div id=\"nodes-row\" hidden><label for=\"core-nodes\">Core nodes</label>\
         <input id=\"core-nodes\" type=\"number\" min=\"1\" max=\"100\" value=\"2\"></div>\
         <p id=\"price\" aria-live=\"polite\"></p><button type=\"submit\">Launch</button>\
         <p id=\"launch-status\" role=\"status\"></p></form>"
    )
}

/// The signed-in user's page.
pub(super) fn home(base: &str, who: &Principal, csrf: &str, offerings: &[PricedOffering]) -> String {
    let body = format!(
        "{}<main data-base=\"{}\" data-csrf=\"{}\" data-view=\"mine\">\
         <section aria-labelledby=\"launch-h\"><h2 id=\"launch-h\">Launch</h2>{}</section>\
         <section aria-labelledby=\"res-h\"><h2 id=\"res-h\">Your resources</h2>\
         <table id=\"resources\"><thead><tr><th scope=\"col\">Resource</th><th scope=\"col\">Phase</th>\
         <th scope=\"col\">Progress</th><th scope=\"col\">Cost so far</th><th scope=\"col\">Connect</th>\
         <th scope=\"col\">Actions</th></tr></thead><tbody></tbody></table>\
         <p id=\"empty\" hidden>Nothing launched yet.</p></section></main>\
         <script src=\"{}/assets/app.js\"></script>",
        header(base, who, csrf),
        escape(base),
        escape(csrf),
        launch_form(offerings),
        escape(base)
    );
    shell(base, "Your resources", &body)
}

/// The admin page: every resource.
pub(super) fn admin(base: &str, who: &Principal, csrf: &str) -> String {
    let body = format!(
        "{}<main data-base=\"{}\" data-csrf=\"{}\" data-view=\"all\">\
         <section aria-labelledby=\"all-h\"><h2 id=\"all-h\">Every resource</h2>\
         <table id=\"resources\"><thead><tr><th scope=\"col\">Resource</th><th scope=\"col\">Phase</th>\
         <th scope=\"col\">Progress</th><th scope=\"col\">Cost so far</th><th scope=\"col\">Connect</th>\
         <th scope=\"col\">Actions</th></tr></thead><tbody></tbody></table>\
         <p id=\"empty\" hidden>No resources.</p></section>\
         <section aria-labelledby=\"un-h\"><h2 id=\"un-h\">Machines to adopt</h2>\
         <button type=\"button\" id=\"find-unmanaged\">Look for unmanaged machines</button>\
         <ul id=\"unmanaged\"></ul></section></main>\
         <script src=\"{}/assets/app.js\"></script>",
        header(base, who, csrf),
        escape(base),
        escape(csrf),
        escape(base)
    );
    shell(base, "Admin", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(super::escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let page = super::login("/mliy\"><script>", Some("<b>no</b>"));
        assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
    }
}
