// mliy's dashboard script: fills the resource table from /api/v1, keeps each row live from
// its event stream, and sends launches and actions with the session's CSRF token. User data
// is only ever written as text.
(() => {
  "use strict";
  const main = document.querySelector("main[data-base]");
  if (!main) return;
  const base = main.dataset.base, csrf = main.dataset.csrf, view = main.dataset.view;
  const tbody = document.querySelector("#resources tbody");
  const rows = new Map();

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(base + "/api/v1" + path, { credentials: "same-origin", ...options, headers });
    const body = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new Error(body && body.error ? body.error.message : r.status + " " + r.statusText);
    return body;
  }

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") e.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "value" || k === "max") e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  function connection(d) {
    const c = d.connection || {};
    const lines = [];
    if (c.address) lines.push("Address: " + c.address);
    if (c.custom_url) lines.push("Open: " + c.custom_url);
    if (c.jupyterhub_url) lines.push("JupyterHub: " + c.jupyterhub_url);
    if (c.ssh_tunnel) lines.push("Tunnel: " + c.ssh_tunnel);
    if (!lines.length) return el("span", { text: "—" });
    return el("details", {}, el("summary", { text: "How to connect" }), el("pre", { text: lines.join("\n") }));
  }

  function history(d) {
    const list = el("ol", { className: "events" });
    for (const e of d.events || []) list.append(el("li", { text: e.at + " " + e.to + (e.reason ? " — " + e.reason : "") }));
    return el("details", {}, el("summary", { text: "History" }), list);
  }

  async function act(d, action) {
    const label = d.software_config + " " + d.id.slice(0, 8);
    let body = {};
    if (action === "extend") {
      const hours = prompt("Extend " + label + " by how many hours?", "8");
      if (hours === null) return;
      body = { hours: Number(hours) };
    } else if (action === "resize") {
      const count = prompt("How many core nodes should " + label + " have?", "2");
      if (count === null) return;
      body = { group: "core", count: Number(count) };
    } else if (!confirm(action[0].toUpperCase() + action.slice(1) + " " + label + "?")) {
      return;
    }
    try {
      await api("/resources/" + d.id + "/actions/" + action, { method: "POST", body: JSON.stringify(body) });
    } catch (e) {
      alert(action + " failed: " + e.message);
    }
    await refresh(d.id);
    follow(d.id);
  }

  function render(d) {
    const progress = d.percent === null || d.percent === undefined || d.ended
      ? el("span", { text: d.ended ? "" : "—" })
      : el("progress", { max: 100, value: d.percent, "aria-label": "Progress of " + d.software_config + " " + d.id });
    const percent = d.percent === null || d.percent === undefined || d.ended ? "" : " " + d.percent + "%";
    const actions = el("td", { className: "actions" });
    for (const a of d.actions) {
      const b = el("button", { type: "button", text: a[0].toUpperCase() + a.slice(1), "data-action": a });
      b.addEventListener("click", () => act(d, a));
      actions.append(b);
    }
    const who = view === "all" ? " · " + d.owner : "";
    const tr = el("tr", { "data-id": d.id, "data-phase": d.phase },
      el("td", {}, el("strong", { text: d.software_config }), el("br"),
        el("small", { text: d.instance_type + " · " + d.group_config + who + " · " + d.id })),
      el("td", { className: "phase", text: d.phase.replace(/_/g, " ") + (d.message ? ": " + d.message : "") }),
      el("td", {}, progress, el("span", { className: "percent", text: percent })),
      el("td", { className: "cost", text: d.cost_so_far === null ? "—" : "$" + d.cost_so_far }),
      el("td", {}, connection(d), history(d)),
      actions);
    const old = rows.get(d.id);
    if (old && old.tr) old.tr.replaceWith(tr); else tbody.prepend(tr);
    rows.set(d.id, { ...(old || {}), tr, ended: d.ended });
    document.getElementById("empty").hidden = rows.size > 0;
  }

  async function refresh(id) {
    try { render(await api("/resources/" + id)); } catch (e) { console.warn(id, e.message); }
  }

  function follow(id) {
    const row = rows.get(id);
    if (!row || row.ended || row.stream) return;
    const stream = new EventSource(base + "/api/v1/resources/" + id + "/events/stream");
    row.stream = stream;
    stream.addEventListener("phase", () => refresh(id));
    stream.addEventListener("end", () => { stream.close(); row.stream = null; refresh(id); });
  }

  async function load() {
    const page = await api(view === "all" ? "/admin/resources?limit=500" : "/resources?limit=500");
    for (const r of page.items.reverse()) { await refresh(r.id); follow(r.id); }
    document.getElementById("empty").hidden = rows.size > 0;
  }

  function launchForm() {
    const form = document.getElementById("launch");
    if (!form) return;
    const offering = document.getElementById("offering"), type = document.getElementById("instance-type");
    const price = document.getElementById("price"), status = document.getElementById("launch-status");
    const nodes = document.getElementById("core-nodes");
    const chosen = () => offering.selectedOptions[0].dataset;
    async function describe() {
      const o = chosen();
      const hourly = type.selectedOptions[0] ? type.selectedOptions[0].dataset.hourly : "";
      let text = hourly ? "$" + hourly + " an hour" + (o.kind === "cluster" ? " per node" : "") : "No price known";
      try {
        const b = await api("/budgets/" + encodeURIComponent(o.group));
        if (b) text += " · budget " + b.month + ": $" + b.spent + " of $" + b.budget + " spent (" + b.percent + "%)";
      } catch (e) { /* no budget to show */ }
      price.textContent = text;
    }
    function types() {
      type.replaceChildren();
      for (const pair of chosen().types.split(",")) {
        const [name, hourly] = pair.split("=");
        type.append(el("option", { value: name, text: name + (hourly ? " — $" + hourly + "/h" : ""), "data-hourly": hourly }));
      }
      document.getElementById("nodes-row").hidden = chosen().kind !== "cluster";
      describe();
    }
    offering.addEventListener("change", types);
    type.addEventListener("change", describe);
    types();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const o = chosen();
      const body = { group_config: o.group, software_config: o.software, instance_type: type.value };
      if (o.kind === "cluster") body.core_nodes = Number(nodes.value);
      status.textContent = "Launching…";
      try {
        const launched = await api(o.kind === "cluster" ? "/clusters" : "/instances", { method: "POST", body: JSON.stringify(body) });
        status.textContent = "Launched " + launched.resource.id;
        for (const [user, password] of launched.jupyter_passwords) status.textContent += " · " + user + ": " + password;
        await refresh(launched.resource.id);
        follow(launched.resource.id);
      } catch (e) {
        status.textContent = "Not launched: " + e.message;
      }
    });
  }

  function adminTools() {
    const find = document.getElementById("find-unmanaged");
    if (!find) return;
    const list = document.getElementById("unmanaged");
    find.addEventListener("click", async () => {
      list.replaceChildren(el("li", { text: "Looking…" }));
      try {
        const found = await api("/admin/unmanaged");
        list.replaceChildren();
        if (!found.length) list.append(el("li", { text: "None: mliy manages every machine MLiy launched." }));
        for (const m of found) {
          const li = el("li", { text: m.kind + " " + m.id + " — " + (m.refused || "owner " + m.owner + ", " + m.software_config) + " " });
          if (!m.refused) {
            const b = el("button", { type: "button", text: "Adopt" });
            b.addEventListener("click", async () => {
              if (!confirm("Adopt " + m.id + "?")) return;
              try { const r = await api("/admin/adopt", { method: "POST", body: JSON.stringify({ id: m.id }) }); li.textContent = "Adopted as " + r.id; load(); }
              catch (e) { alert(e.message); }
            });
            li.append(b);
          }
          list.append(li);
        }
      } catch (e) { list.replaceChildren(el("li", { text: e.message })); }
    });
  }

  launchForm();
  adminTools();
  load().catch((e) => { document.getElementById("empty").hidden = false; document.getElementById("empty").textContent = e.message; });
})();
