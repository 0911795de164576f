// matcalc's page: reads the form, asks the server's JSON API (the CLI's --json objects), shows the
// results.  The state (every field and the chosen layout) lives in the URL's query string, so a
// link reproduces a derivation.  Requests go to this page's own origin only.
"use strict";

const FIELDS = ["expr", "wrt", "shapes", "assume", "at", "answer"];
const DEBOUNCE_MS = 350;
const $ = (id) => document.getElementById(id);
let layout = "gradient";
let generation = 0;          // answers to an older state of the form are dropped
let timer = null;

function state() {
  const s = {};
  for (const f of FIELDS) s[f] = $(f).value;
  return s;
}

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  for (const f of FIELDS) $(f).value = q.get(f) || "";
  if (!q.get("expr") && !q.toString()) {
    $("expr").value = "norm(W*x)^2";
    $("wrt").value = "W";
  }
  layout = q.get("layout") === "jacobian" ? "jacobian" : "gradient";
}

function writeUrl() {
  const q = new URLSearchParams();
  const s = state();
  for (const f of FIELDS) if (s[f]) q.set(f, s[f]);
  if (layout !== "gradient") q.set("layout", layout);
  const url = window.location.pathname + (q.toString() ? "?" + q.toString() : "");
  window.history.replaceState(null, "", url);
}

async function api(op, body) {
  const response = await fetch("/api/" + op, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  let data;
  try { data = await response.json(); } catch (e) {
    data = {error: {message: "the server sent no JSON (" + response.status + ")", line: null, source_line: null}};
  }
  return data;
}

// One display equation per line: several variables (W,b) give one line each.
function tex(el, latex, fallback) {
  el.textContent = "";
  const whole = /\\begin\{/.test(latex);        // an aligned block is one display, whatever its lines
  const lines = whole ? [latex] : latex.split("\n");
  const plain = whole ? [fallback || latex] : (fallback || latex).split("\n");
  lines.forEach((line, i) => {
    const div = document.createElement("div");
    el.appendChild(div);
    if (window.katex) {
      try {
        window.katex.render(line, div, {displayMode: true, throwOnError: false, output: "htmlAndMathml"});
        return;
      } catch (e) { /* fall through to plain text */ }
    }
    div.textContent = plain[i] || line;
  });
}

function texBlock(parent, latex, fallback) {
  const div = document.createElement("div");
  tex(div, latex, fallback);
  parent.appendChild(div);
  return div;
}

// An error (a matcalc/error/v1 document): the message and, when it points into the input, the
// line with a caret under the column, as the CLI prints it.
function errorText(err) {
  if (err.line === null || err.line === undefined || err.source_line === null) return err.message;
  return err.message + " (line " + err.line + ", column " + err.column + ")\n  " + err.source_line +
    "\n  " + " ".repeat(err.column - 1) + "^";
}

function showError(el, err) {
  if (!err) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = err.text !== undefined ? err.text : errorText(err);
}

// Which box an error belongs under: the field whose text it quotes, or the one its message names.
function fieldErrorBox(err) {
  const s = state();
  const quotes = (text) => err.source_line !== null && err.source_line !== undefined && text.split("\n").includes(err.source_line);
  if (!quotes(s.expr) && quotes(s.answer)) return $("answer-error");
  if (!quotes(s.expr) && (quotes(s.at) || /^--at|^at\b/.test(err.message))) return $("graph-error");
  if (/^(wrt|shapes|assume|seed)\b|\(wrt\)|--shape|--assume/.test(err.message)) return $("options-error");
  return $("expr-error");
}

function clearPanels() {
  for (const id of ["gradient", "jacobian", "hessian", "steps", "graph", "code", "notes", "verdict"]) $(id).textContent = "";
  for (const id of ["derivative-text", "hessian-text", "verified", "graph-point"]) $(id).textContent = "";
  for (const id of ["expr-error", "options-error", "hessian-error", "steps-error", "graph-error", "code-error",
                    "answer-error"]) showError($(id), null);
}

function showLayout() {
  const forms = window.lastDerive || {};
  const shown = forms.gradient ? layout : "jacobian";      // a Jacobian (vector output) has one form
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", String(b.dataset.layout === shown));
  $("gradient").hidden = shown !== "gradient";
  $("jacobian").hidden = shown !== "jacobian";
  $("derivative-text").textContent = forms[shown] ? forms[shown].text : "";
}

function showDerivative(d) {
  window.lastDerive = d;
  if (d.gradient) tex($("gradient"), d.gradient.latex, d.gradient.unicode);
  if (d.jacobian) tex($("jacobian"), d.jacobian.latex, d.jacobian.unicode);
  $("tab-gradient").disabled = !d.gradient;
  const c = d.check;
  $("verified").textContent = !c ? "" : c.status === "ok"
    ? "✓ checked against central differences at random points (the graph and the printed text)"
    : "numeric check: " + c.status;
  $("notes").textContent = "";
  for (const n of d.notes) { const li = document.createElement("li"); li.textContent = "note: " + n; $("notes").appendChild(li); }
  showLayout();
}

function showSteps(s) {
  const root = $("steps");
  root.textContent = "";
  const L = s.steps.latex, U = s.steps.unicode;
  const defs = document.createElement("div");
  defs.className = "defs";
  const h = document.createElement("p"); h.className = "plain"; h.textContent = "the graph, node by node:"; defs.appendChild(h);
  L.graph.forEach((g, i) => texBlock(defs, g.name + " = " + g.definition, U.graph[i].name + " = " + U.graph[i].definition));
  root.appendChild(defs);
  L.steps.forEach((st, i) => {
    const u = U.steps[i];
    const div = document.createElement("div");
    div.className = "step";
    const head = document.createElement("p");
    head.innerHTML = "<b>step " + (i + 1) + "</b>: node ";
    head.appendChild(document.createTextNode(u.node + " = " + u.definition));
    div.appendChild(head);
    const rule = document.createElement("p"); rule.className = "rule"; rule.textContent = "rule: " + st.rule; div.appendChild(rule);
    if (st.gate) { const g = document.createElement("p"); g.className = "gate"; g.textContent = st.gate; div.appendChild(g); }
    texBlock(div, "\\text{upstream } " + st.upstream_label + " = " + st.upstream, u.upstream_label + " = " + u.upstream);
    st.inputs.forEach((inp, k) => {
      const local = inp.local_jacobian !== null ? inp.local_label + " = " + inp.local_jacobian
                                                 : "\\text{local rule: } " + inp.local_rule;
      texBlock(div, local + "\\quad\\Rightarrow\\quad " + inp.downstream_label + " = " + inp.shape_convention,
               U.steps[i].inputs[k].downstream_label + " = " + U.steps[i].inputs[k].shape_convention);
    });
    root.appendChild(div);
  });
  const res = document.createElement("div");
  res.className = "step";
  const rh = document.createElement("p"); rh.innerHTML = "<b>result</b>"; res.appendChild(rh);
  L.gradients.forEach((g, i) => texBlock(res, g.label + " = " + g.gradient, U.gradients[i].label + " = " + U.gradients[i].gradient));
  root.appendChild(res);
}

function showGraph(g) {
  const doc = new DOMParser().parseFromString(g.svg, "image/svg+xml");
  const svg = doc.documentElement;
  $("graph").textContent = "";
  if (svg && svg.nodeName === "svg") $("graph").appendChild(document.importNode(svg, true));
  $("graph-point").textContent = g.at ? " — at " + g.at : g.note ? " — " + g.note : "";
}

function showVerdict(v) {
  const root = $("verdict");
  root.textContent = "";
  const head = document.createElement("p");
  const word = document.createElement("span");
  word.className = v.correct ? "correct" : "wrong";
  word.textContent = v.correct ? "✓ correct" : "✗ " + v.diagnosis.replace("_", " ");
  head.appendChild(word);
  head.appendChild(document.createTextNode(" — " + v.reason));
  head.id = "verdict-text";
  root.appendChild(head);
  const at = v.diagnosis === "unreadable" && /at column (\d+)/.exec(v.reason);
  if (at) {                                   // the caret under the answer, as for the expression
    showError($("answer-error"), {text: v.answer + "\n" + " ".repeat(Number(at[1]) - 1) + "^"});
  }
  if (!v.correct && v.expected) {
    const e = document.createElement("p"); e.className = "plain"; e.textContent = "expected: " + v.expected; root.appendChild(e);
  }
  if (v.counterexample) {
    const c = document.createElement("pre");
    c.className = "plain";
    c.textContent = "counterexample: " + JSON.stringify(v.counterexample.inputs) + "\n  expected " +
      JSON.stringify(v.counterexample.expected) + "\n  yours    " + JSON.stringify(v.counterexample.answer);
    root.appendChild(c);
  }
}

async function panel(op, body, show, errorBox, mine) {
  const data = await api(op, body);
  if (mine !== generation) return null;
  if (data.error) { showError(errorBox, data.error); return null; }
  show(data);
  return data;
}

async function grade(mine) {
  const s = state();
  const first = s.wrt.split(",")[0].trim();
  $("answer-label").textContent = first ? "your ∂f/∂" + first + " (input-language text):" : "your answer:";
  showError($("answer-error"), null);
  $("verdict").textContent = "";
  if (!s.answer.trim() || !s.expr.trim()) return;
  await panel("check", s, showVerdict, $("answer-error"), mine);
}

async function refresh() {
  const mine = ++generation;
  writeUrl();
  const s = state();
  clearPanels();
  if (!s.expr.trim()) { $("status").textContent = "type an expression"; return; }
  if (!s.wrt.trim()) { $("status").textContent = "name the variable(s) to differentiate by"; return; }
  $("status").textContent = "working…";
  const d = await api("derive", s);
  if (mine !== generation) return;
  if (d.error) {
    $("status").textContent = "";
    showError(fieldErrorBox(d.error), d.error);
    return;
  }
  showDerivative(d);
  const jobs = [panel("codegen", s, (c) => { $("code").textContent = c.source; }, $("code-error"), mine)];
  if (d.kind === "gradient") {
    const at = s.at.trim() ? s.at : "random";
    jobs.push(panel("steps", s, showSteps, $("steps-error"), mine));
    jobs.push(panel("graph", {...s, at: at, seed: 0}, showGraph, $("graph-error"), mine));
    jobs.push(panel("hessian", s, (h) => {
      tex($("hessian"), h.hessian.latex, h.hessian.unicode);
      $("hessian-text").textContent = h.hessian.text;
    }, $("hessian-error"), mine));
  } else {
    $("steps").textContent = "The steps, the graph's values and the Hessian are shown for a scalar output.";
    jobs.push(panel("graph", {...s, at: ""}, showGraph, $("graph-error"), mine));
  }
  jobs.push(grade(mine));
  await Promise.all(jobs);
  if (mine === generation) $("status").textContent = "ready";
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, DEBOUNCE_MS);
}

async function randomPoint() {
  const mine = generation;
  const s = state();
  const seed = Math.floor(Math.random() * 1e9);
  const data = await api("graph", {...s, at: "random", seed: seed});
  if (mine !== generation) return;
  if (data.error) { showError($("graph-error"), data.error); return; }
  showError($("graph-error"), null);
  $("at").value = data.at;
  writeUrl();
  showGraph(data);
}

async function copyCode() {
  const text = $("code").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {                       // no clipboard API (a page not on localhost or https)
    const range = document.createRange();
    range.selectNodeContents($("code"));
    const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    document.execCommand("copy");
  }
  $("copied").textContent = "copied";
  setTimeout(() => { $("copied").textContent = ""; }, 1500);
}

function init() {
  readUrl();
  for (const f of ["expr", "wrt", "shapes", "assume", "at"]) $(f).addEventListener("input", schedule);
  $("answer").addEventListener("input", () => { writeUrl(); });
  $("answer").addEventListener("keydown", (e) => { if (e.key === "Enter") grade(generation); });
  $("grade").addEventListener("click", () => { writeUrl(); grade(generation); });
  $("random-point").addEventListener("click", randomPoint);
  $("copy-code").addEventListener("click", copyCode);
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => { layout = b.dataset.layout; writeUrl(); showLayout(); });
  }
  refresh();
}

document.addEventListener("DOMContentLoaded", init);
