/*
 * tollgate dashboard: reads the spend API of the tollgate that serves it.
 * The master key lives in sessionStorage (this tab only) and travels as a
 * bearer header, never in a URL.  Amounts are shown as the exact decimal text
 * tollgate sends (the JSON is read keeping each number's source text), and
 * never added up here: every total on the page is one tollgate computed.
 */
"use strict";

const KEY = "tollgate.key";
const LATEST_EVERY_MS = 5000;
const ALL_EVERY_MS = 30000;
let chart = null;
let topBy = "model";
let timers = [];

/* ---- the API ---------------------------------------------------------------- */

class AuthError extends Error {}

/*
 * JSON with the exact text of every number that is not an integer (costs):
 * JSON.parse's reviver sees it as context.source where the browser supports
 * it (Chromium 114, Firefox 135); elsewhere the number's shortest text, exact
 * for up to 15 significant digits.
 */
function parseExact(text) {
  return JSON.parse(text, (k, v, ctx) =>
    typeof v === "number" && ctx && typeof ctx.source === "string" &&
      !/^-?\d+$/.test(ctx.source) ? ctx.source : v);
}

async function call(path) {
  const key = sessionStorage.getItem(KEY);
  const r = await fetch(path, { headers: { Authorization: "Bearer " + key }, cache: "no-store" });
  const text = await r.text();
  if (r.status === 401 || r.status === 403)
    throw new AuthError(errorText(text, r.status));
  if (!r.ok)
    throw new Error(path.split("?")[0] + ": " + errorText(text, r.status));
  return path.startsWith("/metrics") ? text : parseExact(text);
}

function errorText(text, status) {
  try {
    return JSON.parse(text).error.message;
  } catch (e) {
    return "HTTP " + status;
  }
}

/* ---- formatting ------------------------------------------------------------- */

function day(offset) {
  const d = new Date(Date.now() - offset * 86400000);
  return d.toISOString().slice(0, 10);
}

function span(days) {
  return "start_date=" + day(days - 1) + "&end_date=" + day(0);
}

/* An exact amount as sent: a decimal string, or a number when it is whole. */
function usd(v) {
  return v === null || v === undefined ? "-" : "$" + String(v);
}

function count(n) {
  return Number(n || 0).toLocaleString("en-US");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null)
    e.textContent = String(text);
  if (cls)
    e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    if (c instanceof Node) {
      const td = document.createElement("td");
      td.appendChild(c);
      tr.appendChild(td);
    } else
      tr.appendChild(el("td", c[0], c[1]));
  }
  return tr;
}

function fill(table, rows, empty, columns) {
  const body = document.querySelector(table + " tbody");
  body.replaceChildren();
  for (const r of rows)
    body.appendChild(r);
  if (!rows.length) {
    const td = el("td", empty, "note");
    td.colSpan = columns;
    const tr = document.createElement("tr");
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

/* ---- the views -------------------------------------------------------------- */

async function totals() {
  for (const [days, id] of [[1, "today"], [7, "7d"], [30, "30d"]]) {
    const a = await call("/user/daily/activity?page_size=1&" + span(days));
    const m = a.metadata;
    const e = document.getElementById("total-" + id);
    e.textContent = usd(m.total_spend);
    e.dataset.exact = String(m.total_spend);
    document.getElementById("sub-" + id).textContent = count(m.total_api_requests) + " requests, " +
      count(m.total_tokens) + " tokens (" + count(m.total_cache_read_input_tokens) + " cache read, " +
      count(m.total_cache_creation_input_tokens) + " cache write), " +
      count(m.total_failed_requests) + " failed";
  }
}

async function trend() {
  const a = await call("/user/daily/activity?page_size=31&" + span(30));
  const days = [];
  for (let i = 29; i >= 0; i--)
    days.push(day(i));
  const models = new Set();
  for (const r of a.results)
    Object.keys(r.breakdown.models).forEach((m) => models.add(m));
  /* chart heights only: the exact amounts are in the tables */
  const datasets = [...models].sort().map((m, i) => ({
    label: m,
    data: days.map((d) => {
      const r = a.results.find((x) => x.date === d);
      /* own keys only: a model named "constructor" is on every object's prototype */
      const b = r && Object.hasOwn(r.breakdown.models, m) && r.breakdown.models[m];
      return b ? Number(b.metrics.spend) : 0;
    }),
    backgroundColor: "hsl(" + ((i * 67) % 360) + ", 60%, 55%)",
  }));
  if (typeof Chart === "undefined") {
    document.getElementById("chart-missing").hidden = false;
    document.querySelector(".chart").hidden = true;
    return;
  }
  if (chart)
    chart.destroy();
  chart = new Chart(document.getElementById("trend"), {
    type: "bar",
    data: { labels: days, datasets: datasets },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "USD" } } },
    },
  });
}

/*
 * What a model_name was served by: "provider/deployment (price entry)" for
 * each of its deployments, dearest first, one a line.
 */
function servedBy(g) {
  return (g.deployments || []).map((d) => d.provider + "/" + d.deployment +
    (d.priced_as ? " (" + d.priced_as + ")" : " (unpriced)")).join("\n");
}

async function showTop() {
  const rows = await call("/spend/totals?group_by=" + topBy + "&" + span(30));
  const head = document.querySelector("#top thead");
  const names = [topBy, "requests", "failed", "input", "cache read", "cache write", "output",
    "reasoning", "cost", "input $", "cache read $", "cache write $", "output $"];
  head.replaceChildren(row(names.map((n, i) => [n, i ? "n" : ""])));
  head.querySelectorAll("td").forEach((td) => td.replaceWith(el("th", td.textContent, td.className)));
  fill("#top", rows.slice(0, 20).map((g) => {
    const m = g.metrics;
    const name = el("span");
    name.appendChild(el("span", g.group === "" ? "(none)" :
      g.group + (g.key_alias ? " (" + g.key_alias + ")" : ""), "name"));
    /* a model_name, and under it the deployments and price entries it was served and priced by */
    if (topBy === "model")
      name.appendChild(el("div", servedBy(g), "served"));
    return row([name, [count(m.api_requests), "n"], [count(m.failed_requests), "n"],
      [count(m.input_tokens), "n"], [count(m.cache_read_input_tokens), "n"],
      [count(m.cache_creation_input_tokens), "n"], [count(m.output_tokens), "n"],
      [count(m.reasoning_tokens), "n"], [usd(m.spend), "n"], [usd(m.cost.input || 0), "n"],
      [usd(m.cost.cache_read || 0), "n"], [usd(m.cost.cache_write || 0), "n"], [usd(m.cost.output || 0), "n"]]);
  }), "no spend in the last 30 days", names.length);
}

function usedBar(spend, limit) {
  const wrap = document.createElement("span");
  if (limit === null || limit === undefined || Number(limit) <= 0)
    return el("span", "-");
  const pct = 100 * Number(spend) / Number(limit);	/* for the eye only */
  const bar = el("span", null, "bar" + (pct >= 100 ? " over" : pct >= 80 ? " warn" : ""));
  const fillEl = document.createElement("span");
  fillEl.style.width = Math.min(100, pct).toFixed(1) + "%";
  bar.appendChild(fillEl);
  wrap.appendChild(bar);
  wrap.appendChild(el("span", pct.toFixed(1) + "%"));
  return wrap;
}

async function budgets() {
  const configured = (await call("/budget/list")).budgets;
  const keys = (await call("/key/list?return_full_object=true")).keys;
  const rows = configured.map((b) => row([[b.scope], [b.name || "-"], [b.budget_duration || "never resets"],
    [usd(b.spend), "n"], [usd(b.max_budget), "n"], usedBar(b.spend, b.max_budget),
    [b.budget_reset_at || "-"]]));
  for (const k of keys.filter((k) => k.max_budget !== null && !k.revoked))
    rows.push(row([["key"], [k.key_alias || k.key_name], [k.budget_duration || "never resets"],
      [usd(k.spend), "n"], [usd(k.max_budget), "n"], usedBar(k.spend, k.max_budget),
      [k.budget_reset_at || "-"]]));
  fill("#budgets", rows, "no budgets configured", 7);
}

async function anomalies() {
  const text = await call("/metrics");
  const rows = [];
  const re = /^tollgate_usage_anomalies_total\{flag="([^"]*)"\} (\d+)$/gm;
  let m;
  while ((m = re.exec(text)) !== null)
    if (Number(m[2]) > 0)
      rows.push(row([[m[1]], [count(m[2]), "n"]]));
  fill("#anomalies", rows, "no anomalies since tollgated started", 2);
  const logs = await call("/spend/logs?limit=1000");
  const unpriced = new Set(logs.filter((r) => r.metadata.usage_flags.includes("unpriced"))
    .map((r) => r.model_group));
  document.getElementById("unpriced").textContent = unpriced.size ?
    "Unpriced models among the last 1,000 requests: " + [...unpriced].sort().join(", ") +
    " (they cost 0 until the price map has them)." :
    "No unpriced model among the last 1,000 requests.";
}

/*
 * Per model, the records whose provider stated its own cost: how many were
 * flagged cost_mismatch, tollgate's total and the provider's.  A window too
 * long for the raw records is said in the note, not as the page's error.
 */
async function providerCosts() {
  const note = document.getElementById("provider-costs-note");
  let a;
  try {
    a = await call("/spend/provider_cost?" + span(7));
  } catch (e) {
    if (e instanceof AuthError)
      throw e;
    fill("#provider-costs", [], "", 6);
    note.textContent = e.message;
    return;
  }
  fill("#provider-costs", a.models.map((m) => {
    const tr = row([[m.model || "(unpriced)"], [count(m.records), "n"], [count(m.mismatches), "n"],
      [usd(m.tollgate_cost_usd), "n"], [usd(m.provider_cost_usd), "n"], [usd(m.delta_usd), "n"]]);
    if (m.mismatches > 0)
      tr.className = "failed";
    return tr;
  }), "no provider stated its own cost in the last 7 days", 6);
  note.textContent = a.total.records ? count(a.total.mismatches) + " of " + count(a.total.records) +
    " records flagged cost_mismatch; tollgate " + usd(a.total.tollgate_cost_usd) + ", the providers " +
    usd(a.total.provider_cost_usd) + " (difference " + usd(a.total.delta_usd) + ")." : "";
}

/* "audio_in 120, output 750": the usage a what-if target does not price. */
function notPriced(np) {
  return Object.keys(np).map((k) => k + " " + count(np[k])).join(", ");
}

function groupLabel(by, g) {
  if (g.group === "")
    return "(no " + by + ")";
  return by + " " + g.group + (g.key_alias ? " (" + g.key_alias + ")" : "");
}

/* The what-if form: the dearest group in the card, every group in the table. */
async function whatIf() {
  const as = document.getElementById("whatif-as").value.trim();
  const tier = document.getElementById("whatif-tier").value;
  const by = document.getElementById("whatif-by").value;
  const card = document.getElementById("whatif-card");
  const table = document.getElementById("whatif-groups");
  const note = document.getElementById("whatif-note");
  if (!as)
    return;
  let a;
  try {
    a = await call("/spend/whatif?" + span(30) + "&as=" + encodeURIComponent(as) + "&group_by=" + by +
      (tier ? "&tier=" + encodeURIComponent(tier) : ""));
  } catch (e) {
    if (e instanceof AuthError)
      throw e;
    card.hidden = table.hidden = true;
    note.textContent = e.message;
    return;
  }
  const on = a.as + (a.tier ? " (" + a.tier + ")" : "");
  table.hidden = false;
  fill("#whatif-groups", a.groups.map((g) => row([[groupLabel(by, g)], [count(g.requests), "n"],
    [usd(g.recorded_usd), "n"], [usd(g.as_usd), "n"], [usd(g.difference_usd), "n"],
    [notPriced(g.not_priced) || "-"]])), "no usage in the last 30 days", 6);
  const top = a.groups[0];
  card.hidden = !top;
  note.textContent = "";
  if (!top)
    return;
  document.getElementById("whatif-title").textContent = "This " + groupLabel(by, top) + " on " + on +
    " would have cost";
  document.getElementById("whatif-cost").textContent = usd(top.as_usd);
  document.getElementById("whatif-sub").textContent = "recorded " + usd(top.recorded_usd) +
    ", difference " + usd(top.difference_usd) + ", " + count(top.requests) + " requests" +
    (notPriced(top.not_priced) ? "; not priced by " + a.as + " (not counted): " + notPriced(top.not_priced) : "");
}

/* The deployments as the router sees them, from /metrics' tollgate_deployment_* series. */
async function deployments() {
  const text = await call("/metrics");
  const deps = new Map();
  const re = /^tollgate_deployment_(\w+)\{model_group="((?:[^"\\]|\\.)*)",deployment="((?:[^"\\]|\\.)*)",model_id="((?:[^"\\]|\\.)*)"\} (\S+)$/gm;
  let m;
  while ((m = re.exec(text)) !== null) {
    const id = m[2] + "\u0000" + m[4];
    if (!deps.has(id))
      deps.set(id, { group: m[2], deployment: m[3] });
    deps.get(id)[m[1]] = Number(m[5]);
  }
  const rows = [...deps.values()].sort((a, b) => (a.group + a.deployment).localeCompare(b.group + b.deployment))
    .map((d) => {
      const tr = row([[d.group], [d.deployment],
        [d.cooling ? "cooling " + Math.ceil(d.cooldown_remaining_seconds) + " s" : "ready"],
        [count(d.in_flight), "n"], [(1000 * (d.ttfb_seconds || 0)).toFixed(0), "n"],
        [count(d.attempts_total), "n"], [count(d.failures_total), "n"], [count(d.cooldowns_total), "n"]]);
      if (d.cooling)
        tr.className = "failed";
      return tr;
    });
  fill("#deployments", rows, "no deployments", 8);
}

async function latest() {
  const logs = await call("/spend/logs?limit=25");
  fill("#latest", logs.map((r) => {
    const tr = row([[r.endTime.replace("T", " ").replace("Z", "")], [r.api_key], [r.model_group],
      [r.custom_llm_provider], [r.metadata.status, "n"], [count(r.prompt_tokens), "n"],
      [count(r.cache_read_input_tokens), "n"], [count(r.cache_creation_input_tokens), "n"],
      [count(r.completion_tokens), "n"], [usd(r.spend), "n"],
      [r.metadata.usage_flags.concat(r.metadata.flags).join(" ")]]);
    if (r.status === "failure")
      tr.className = "failed";
    return tr;
  }), "no requests yet", 11);
  setStatus("updated " + new Date().toISOString().slice(11, 19) + " UTC");
}

/* ---- the page ----------------------------------------------------------------- */

async function guarded(fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof AuthError)
      signOut(e.message);
    else
      setStatus(e.message);
  }
}

async function refreshAll() {
  await guarded(async () => {
    await totals();
    await trend();
    await showTop();
    await budgets();
    await anomalies();
    await providerCosts();
    await deployments();
    await latest();
    document.body.dataset.loaded = "true";
  });
}

function showDashboard() {
  document.getElementById("signin-view").hidden = true;
  document.getElementById("dashboard").hidden = false;
  document.getElementById("signout").hidden = false;
  refreshAll();
  timers.push(setInterval(() => guarded(latest), LATEST_EVERY_MS));
  timers.push(setInterval(refreshAll, ALL_EVERY_MS));
}

function signOut(why) {
  sessionStorage.removeItem(KEY);
  timers.forEach(clearInterval);
  timers = [];
  document.getElementById("dashboard").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("signin-view").hidden = false;
  document.getElementById("signin-error").textContent = why || "";
  delete document.body.dataset.loaded;
  setStatus("");
}

document.getElementById("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("key");
  sessionStorage.setItem(KEY, input.value);
  input.value = "";
  try {
    await call("/budget/list");	/* the master key, or a 401/403 */
    document.getElementById("signin-error").textContent = "";
    showDashboard();
  } catch (e) {
    signOut(e.message);
  }
});

document.getElementById("signout").addEventListener("click", () => signOut(""));

document.getElementById("whatif").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guarded(whatIf);
});

document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tabs button").forEach((x) => x.classList.remove("active"));
  b.classList.add("active");
  topBy = b.dataset.top;
  guarded(showTop);
}));

if (sessionStorage.getItem(KEY))
  showDashboard();
