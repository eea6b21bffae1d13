// Sandstep console: checks the start form's JSON, recolours the graph from
// server-sent events, and fills the step panel. User data is only ever
// written as textContent or attribute values, never as HTML.
"use strict";

const COLOURS = {
  "not-reached": ["#ffffff", "#8a8f98"],
  "succeeded": ["#d4f4dd", "#1d8102"],
  "caught": ["#fff1d6", "#c56b00"],
  "running": ["#dbeafe", "#0972d3"],
  "failed": ["#fde2e2", "#d91515"],
};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function checkStartForm() {
  const form = document.getElementById("start-form");
  if (!form) return;
  const input = document.getElementById("input");
  const problem = document.getElementById("input-problem");
  form.addEventListener("submit", (event) => {
    try {
      JSON.parse(input.value.trim() === "" ? "{}" : input.value);
      problem.hidden = true;
    } catch (e) {
      event.preventDefault();
      problem.textContent = "The input is not valid JSON: " + e.message;
      problem.hidden = false;
      input.focus();
    }
  });
}

function paint(graph, states) {
  for (const g of graph.querySelectorAll("g.state")) {
    const s = states[g.dataset.state];
    const status = s ? s.status : "not-reached";
    g.dataset.status = status;
    const [fill, stroke] = COLOURS[status] || COLOURS["not-reached"];
    const box = g.querySelector("rect.state-box");
    if (box && g.dataset.type !== "Parallel" && g.dataset.type !== "Map") box.setAttribute("fill", fill);
    if (box) box.setAttribute("stroke", stroke);
    const band = g.querySelector("rect.state-band");
    if (band) band.setAttribute("fill", stroke);
    const detail = g.querySelector("text.state-detail");
    if (detail && s && s.iterations && s.iterations.started) {
      const it = s.iterations;
      detail.textContent = g.dataset.type + " · " + it.started + " items: " + (it.succeeded || 0) +
        " ok, " + ((it.failed || 0) + (it.aborted || 0)) + " failed";
    }
  }
}

function follow(graph) {
  if (!graph.dataset.live || graph.dataset.status !== "RUNNING" || !window.EventSource) return;
  const source = new EventSource(graph.dataset.live);
  source.addEventListener("overlay", (event) => {
    const data = JSON.parse(event.data);
    paint(graph, data.states || {});
    if (data.status !== "RUNNING") {
      source.close();
      // The page shows the output, error and Redrive of an ended execution.
      window.location.reload();
    }
  });
}

function fact(list, name, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", name), el("dd", value));
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

async function showStep(graph, name) {
  const title = document.getElementById("step-title");
  const hint = document.getElementById("step-hint");
  const facts = document.getElementById("step-facts");
  const visits = document.getElementById("step-visits");
  title.textContent = name;
  hint.hidden = true;
  facts.replaceChildren();
  visits.replaceChildren();
  for (const g of graph.querySelectorAll("g.state.selected")) g.classList.remove("selected");
  for (const g of graph.querySelectorAll("g.state")) if (g.dataset.state === name) g.classList.add("selected");
  const response = await fetch(graph.dataset.states + encodeURIComponent(name));
  const s = await response.json();
  fact(facts, "Status", s.status);
  fact(facts, "Visits", s.visitsTotal);
  if (s.iterations) {
    for (const [k, v] of Object.entries(s.iterations)) fact(facts, "Iterations " + k, v);
  }
  const shown = s.visits || [];
  if (s.visitsTotal > shown.length) visits.append(el("p", "Showing the last " + shown.length + " of " + s.visitsTotal + " visits.", "muted"));
  for (const v of shown.slice().reverse()) {
    const box = el("div", null, "visit visit-" + v.status);
    box.append(el("h3", "Visit from event " + v.enteredEvent + " · " + v.status));
    const dl = el("dl");
    fact(dl, "Error", v.error);
    fact(dl, "Retries", v.retries);
    if (v.durationMs !== undefined) fact(dl, "Duration", v.durationMs.toFixed(1) + " ms");
    if (v.fuel !== undefined) fact(dl, "Fuel", v.fuel.toLocaleString());
    if (v.peakMemoryBytes !== undefined) fact(dl, "Peak memory", (v.peakMemoryBytes / 1048576).toFixed(2) + " MiB");
    if (v.taskWallMs !== undefined) fact(dl, "Task wall time", v.taskWallMs.toFixed(1) + " ms");
    box.append(dl);
    if (v.cause) { box.append(el("h4", "Cause")); box.append(el("pre", v.cause, "cause")); }
    if (v.input !== undefined) { box.append(el("h4", "Input")); box.append(el("pre", pretty(v.input), "json")); }
    if (v.output !== undefined) { box.append(el("h4", "Output")); box.append(el("pre", pretty(v.output), "json")); }
    if (v.logs && v.logs.length) { box.append(el("h4", "Logs")); box.append(el("pre", v.logs.join("\n"))); }
    visits.append(box);
  }
}

function steps(graph) {
  if (!graph.dataset.states) return;
  for (const g of graph.querySelectorAll("g.state")) {
    g.addEventListener("click", () => showStep(graph, g.dataset.state));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") showStep(graph, g.dataset.state); });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  checkStartForm();
  const graph = document.getElementById("graph");
  if (graph) { steps(graph); follow(graph); }
});
