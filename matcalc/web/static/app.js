// matcalc's page: reads the form, asks the server's JSON API (the CLI's --json objects), shows the
// results.  The state (every field and the chosen layout) lives in the URL's query string, so a
// link reproduces a derivation.  Requests go to this page's own origin only.
"use strict";

const FIELDS = ["expr", "wrt", "shapes", "assume", "at", "answer"];
const FLAGS = ["index"];     // checkboxes, in the URL as index=1
const DEBOUNCE_MS = 350;
const $ = (id) => document.getElementById(id);
let layout = "gradient";
let generation = 0;          // answers to an older state of the form are dropped
let timer = null;

function state() {
  const s = {};
  for (const f of FIELDS) s[f] = $(f).value;
  for (const f of FLAGS) s[f] = $(f).checked;
  return s;
}

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  for (const f of FIELDS) $(f).value = q.get(f) || "";
  for (const f of FLAGS) $(f).checked = q.get(f) === "1";
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
  for (const f of FLAGS) if (s[f]) q.set(f, "1");
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

// The steps panel, for each kind the steps JSON (matcalc derive --steps --json [--index]) has: a
// scalar output's gradient steps, the same in index notation, a vector output's Jacobian chain and
// a matrix output's chain in vec form.  Every equation is one labelled line (the words the CLI
// prints: upstream, local, entries, Jacobian, chain, matrix), typeset by KaTeX from the latex
// style, with the unicode style as the fallback and in data-unicode (what a test reads).
function stepsKind(L) {
  if (L.jacobians) return L.vec ? "vec_chain" : "jacobian_chain";
  const first = L.steps.find((st) => st.inputs && st.inputs.length);
  return first && "matrix_label" in first.inputs[0] ? "index" : "gradient";
}

function eq(...parts) {                          // a = b = c, repeated neighbours (and nulls) dropped
  const out = [];
  for (const p of parts) if (p !== null && p !== undefined && out[out.length - 1] !== p) out.push(p);
  return out.join(" = ");
}

function named(st) {                             // explain._upstream: dz₂ = ∂s/∂z₂ = … where it is named
  return st.upstream_name ? st.upstream_name + " = " : "";
}

function plainLine(parent, cls, text) {
  const p = document.createElement("p");
  p.className = cls;
  p.textContent = text;
  parent.appendChild(p);
  return p;
}

// One labelled equation: the word, then the math (KaTeX from latex, else the unicode text).
function stepLine(parent, word, latex, unicode) {
  const row = document.createElement("div");
  row.className = "line";
  row.dataset.label = word;
  row.dataset.unicode = unicode;
  if (word) {
    const w = document.createElement("span");
    w.className = "word";
    w.textContent = word;
    row.appendChild(w);
  }
  const math = document.createElement("div");
  math.className = "eq";
  row.appendChild(math);
  parent.appendChild(row);
  tex(math, latex, unicode);
  return row;
}

function stepBox(parent, i, st) {
  const div = document.createElement("div");
  div.className = "step";
  const head = document.createElement("p");
  const b = document.createElement("b");
  b.textContent = "step " + (i + 1);
  head.appendChild(b);
  head.appendChild(document.createTextNode(": node " + (st.definition === st.node ? st.node : st.node + " = " + st.definition)));
  div.appendChild(head);
  parent.appendChild(div);
  return div;
}

function graphDefs(root, L, U, intro) {
  const defs = document.createElement("div");
  defs.className = "defs";
  plainLine(defs, "plain", "the graph, node by node:");
  L.graph.forEach((g, i) => stepLine(defs, "", g.name + " = " + g.definition, U.graph[i].name + " = " + U.graph[i].definition));
  root.appendChild(defs);
  if (intro) plainLine(root, "plain intro", intro);
}

function resultBox(root) {
  const res = document.createElement("div");
  res.className = "step result";
  const rh = document.createElement("p");
  const b = document.createElement("b");
  b.textContent = "result";
  rh.appendChild(b);
  res.appendChild(rh);
  root.appendChild(res);
  return res;
}

function plus(parts) {                            // explain._plus: a term printed with a minus is subtracted
  let out = parts.length ? parts[0] : "0";
  for (const p of parts.slice(1)) {
    out += p.startsWith("−") ? " − " + p.slice(1) : p.startsWith("-") ? " - " + p.slice(1) : " + " + p;
  }
  return out;
}

function gradientRows(i, mapsTo) {                 // explain._input_rows: (word, equation)
  const rows = [];
  if (i.local_jacobian !== null) rows.push(["local", i.local_label + " = " + i.local_jacobian]);
  if (i.local_rule !== null) rows.push(["rule", "G " + mapsTo + " " + i.local_rule]);
  if (i.jacobian_form !== null) rows.push(["Jacobian", i.downstream_label + " = " + eq(i.jacobian_form, i.jacobian_form_simplified)]);
  rows.push(["gradient", i.downstream_label + " = " + i.shape_convention]);
  return rows;
}

function gradientResults(c) {                      // explain._result_rows: (word, equation)
  const rows = [];
  for (const f of c.gradients) {
    if ("delta" in f) {
      if (!f.delta_repeat) rows.push(["", f.delta_symbol + " = " + f.delta_label + " = " + eq(f.delta, f.delta_simplified, f.delta_named)]);
      rows.push(["", f.label + " = " + f.formula + " = " + f.gradient]);
    } else if (f.fork && f.fork.length) {
      rows.push(["fork", f.label + " = " + plus(f.fork) + " = " + f.gradient]);
    } else {
      rows.push(["", f.label + " = " + f.gradient]);
    }
  }
  return rows;
}

function showGradientSteps(root, L, U) {
  graphDefs(root, L, U, "backward pass, from " + U.output + " back (G is the upstream gradient; Jacobians in " +
            "numerator layout, gradients in the shape convention):");
  L.steps.forEach((st, i) => {
    const u = U.steps[i];
    const div = stepBox(root, i, u);
    plainLine(div, "gate", u.gate || u.rule);
    if (st.fork.length) {
      stepLine(div, "fork", st.upstream_label + " = " + plus(st.fork.map((f) => f.contribution)),
               u.upstream_label + " = " + plus(u.fork.map((f) => f.contribution)) +
               "   (from " + u.fork.map((f) => f.from).join(", ") + ", added)");
    }
    stepLine(div, "upstream", named(st) + st.upstream_label + " = " + st.upstream, named(u) + u.upstream_label + " = " + u.upstream);
    st.inputs.forEach((inp, k) => {
      plainLine(div, "to", "→ to " + u.inputs[k].input + ":");
      const ur = gradientRows(u.inputs[k], "↦");
      gradientRows(inp, "\\mapsto").forEach(([word, line], n) => stepLine(div, word, line, ur[n][1]));
    });
  });
  const res = resultBox(root);
  const ur = gradientResults(U);
  gradientResults(L).forEach(([word, line], n) => stepLine(res, word, line, ur[n][1]));
}

function showChainSteps(root, L, U) {
  const o = U.output;
  graphDefs(root, L, U, L.vec
    ? "Jacobian chain in vec form, from " + o + " back (numerator layout): vec(M) stacks the columns of a matrix M " +
      "(a vector is its own vec), and ∂vec(" + o + ")/∂vec(M)ᵀ has a row per entry of " + o + " and a column per entry of M."
    : "Jacobian chain, from " + o + " back (numerator layout: a row per entry of " + o + ").");
  L.steps.forEach((st, i) => {
    const u = U.steps[i];
    const div = stepBox(root, i, u);
    if (u.gate) plainLine(div, "gate", u.gate);
    if (st.fork.length) {
      stepLine(div, "fork", st.upstream_label + " = " + st.fork.map((f) => f.product).join(" + "),
               u.upstream_label + " = " + u.fork.map((f) => f.product).join(" + ") +
               "   (from " + u.fork.map((f) => f.from).join(", ") + ", added)");
    }
    stepLine(div, "upstream", named(st) + st.upstream_label + " = " + st.upstream, named(u) + u.upstream_label + " = " + u.upstream);
    st.inputs.forEach((inp, k) => {
      const v = u.inputs[k];
      plainLine(div, "to", "→ to " + v.input + ":");
      stepLine(div, "local", inp.local_label + " = " + inp.local, v.local_label + " = " + v.local);
      if (inp.entries) stepLine(div, "entries", inp.entries.label + " = " + inp.entries.form, v.entries.label + " = " + v.entries.form);
      stepLine(div, "Jacobian", inp.downstream_label + " = " + eq(st.upstream_label + " \\, " + inp.local_label, inp.product, inp.simplified),
               v.downstream_label + " = " + eq(u.upstream_label + " " + v.local_label, v.product, v.simplified));
    });
  });
  const res = resultBox(root);
  const rows = (f, join) => {                      // chain_print._result_rows: (word, equation)
    const out = [];
    if (f.chain) {
      const chain = f.chain.labels.join(join);
      out.push(["", f.label + " = " + eq(f.same.includes(chain) ? null : chain, f.chain.product, f.result)]);
    } else {
      out.push(["fork", f.label + " = " + eq(f.fork.join(" + "), f.result)]);
    }
    if (f.reshaped) out.push(["reshaped", f.reshaped.label + " = " + f.reshaped.result]);
    if (f.entries) out.push(["entries", f.entries.label + " = " + f.entries.form]);
    return out;
  };
  L.jacobians.forEach((f, i) => {
    const ur = rows(U.jacobians[i], " ");
    rows(f, " \\, ").forEach(([word, line], k) => stepLine(res, word, line, ur[k][1]));
  });
}

function indexRows(i, sep) {                       // index_steps._rows: (word, equation)
  const rows = [];
  if (i.local === null) {
    rows.push(["local", null, i.local_label, i.missing]);
  } else {
    rows.push(["local", i.local_label + " = " + i.local]);
    rows.push(["chain", eq(i.downstream_label, i.chain, i.summed, i.contracted, i.entry_simple ? i.entry : null)]);
  }
  if (!i.scalar) rows.push(["matrix", eq(i.matrix_label, i.local === null ? i.entry : null, i.matrix)]);
  return rows;
}

function showIndexSteps(root, L, U) {
  graphDefs(root, L, U, "backward pass in index notation, from " + U.output + " back (k, l index a node's entries, i, j its input's):");
  L.steps.forEach((st, i) => {
    const u = U.steps[i];
    const div = stepBox(root, i, u);
    stepLine(div, "upstream", named(st) + st.upstream_label + " = " + st.upstream, named(u) + u.upstream_label + " = " + u.upstream);
    st.inputs.forEach((inp, k) => {
      const v = u.inputs[k];
      plainLine(div, "to", "→ to " + v.input + ":");
      const ur = indexRows(v);
      indexRows(inp).forEach(([word, line, label, why], n) => {
        if (line === null) {                         // no local derivative in index form: say why
          stepLine(div, word, label + " : \\text{" + why.replace(/[\\{}$&#%_^~]/g, "") + "}", ur[n][2] + ": " + ur[n][3]);
        } else {
          stepLine(div, word, line, ur[n][1]);
        }
      });
    });
  });
  const res = resultBox(root);
  L.gradients.forEach((g, i) => stepLine(res, "", g.label + " = " + g.gradient, U.gradients[i].label + " = " + U.gradients[i].gradient));
}

const STEPS_SHOWN = {gradient: showGradientSteps, index: showIndexSteps, jacobian_chain: showChainSteps, vec_chain: showChainSteps};

function showSteps(s) {
  const root = $("steps");
  root.textContent = "";
  const L = s.steps.latex, U = s.steps.unicode;
  const kind = stepsKind(L);
  root.dataset.kind = kind;
  if (window.stepsNote) plainLine(root, "plain note", window.stepsNote);
  STEPS_SHOWN[kind](root, L, U);
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
  // index notation is for a scalar output; any other output shows its Jacobian chain, said so
  window.stepsNote = s.index && d.kind !== "gradient"
    ? "Index notation is shown for a scalar output; for this output, the Jacobian chain." : "";
  jobs.push(panel("steps", {...s, at: "", index: s.index && d.kind === "gradient"}, showSteps, $("steps-error"), mine));
  if (d.kind === "gradient") {
    const at = s.at.trim() ? s.at : "random";
    jobs.push(panel("graph", {...s, at: at, seed: 0}, showGraph, $("graph-error"), mine));
    jobs.push(panel("hessian", s, (h) => {
      tex($("hessian"), h.hessian.latex, h.hessian.unicode);
      $("hessian-text").textContent = h.hessian.text;
    }, $("hessian-error"), mine));
  } else {
    $("hessian").textContent = "The Hessian and the graph's values are shown for a scalar output.";
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
  for (const f of FLAGS) $(f).addEventListener("change", schedule);
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
