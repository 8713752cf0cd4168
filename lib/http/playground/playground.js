// The playground page. Every control comes from /playground/filters.json (the server's filter
// registry), so a filter added to the server appears here without touching this file. The page
// never builds or signs image URLs itself: /playground/url does, with the project's client.

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

let info; // the server's description: filters, presets, storages, formats, root
let steps = []; // the chain as parsed steps; see parseChain
let token = sessionStorage.getItem("impressionist-token") ?? "";
let generation = 0; // ignores answers to superseded requests
let timer;
const objectUrls = new Map();

/** Text from the server's descriptions, `code` spans (written in backticks) as <code>. */
function rich(text) {
  return text.split("`").map((part, i) => i % 2 ? el("code", { textContent: part }) : part);
}

/** The same text for places that hold no markup (options): the backticks dropped. */
const plain = (text) => text.replaceAll("`", "");

function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Fetches a server endpoint; a non-2xx answer throws the server's own message. */
async function call(path, accept = "application/json") {
  const response = await fetch(path, { headers: { ...authHeaders(), Accept: accept } });
  if (!response.ok) throw await serverError(response);
  return response;
}

async function serverError(response) {
  const text = (await response.text()).trim();
  return Object.assign(new Error(`${response.status}: ${text || response.statusText}`), {
    status: response.status,
  });
}

// ---- Chain text <-> steps, from the filters' templates --------------------------------------

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A regular expression reading a filter's argument with its template's `{field}` slots. */
function argumentPattern(filter) {
  const byName = new Map(filter.fields.map((field) => [field.name, field]));
  const parts = filter.template.split(/(\{[^}]+\})/).map((part) => {
    const field = byName.get(part.slice(1, -1));
    if (!part.startsWith("{") || !field) return escapeRegExp(part);
    // A sign only where the field's range has negative values (levels such as `br,-20`).
    const sign = field.min === undefined || field.min < 0 ? "-?" : "";
    if (field.kind === "integer") return `(${sign}\\d+)`;
    if (field.kind === "number") return `(${sign}(?:\\d+(?:\\.\\d+)?|\\.\\d+))`;
    if (field.kind === "choice") {
      return `(${field.choices.map((c) => escapeRegExp(c.value)).join("|")})`;
    }
    return "(.*?)";
  });
  return new RegExp(`^${parts.join("")}$`);
}

/** The argument a template gives for the values. */
function formatArgument(filter, values) {
  return filter.template.replace(/\{([^}]+)\}/g, (_, name) => values[name] ?? "");
}

function defaults(filter) {
  return Object.fromEntries(filter.fields.map((field) => [field.name, field.default]));
}

/**
 * Splits chain text into steps: `{kind: "filter", filter, values}` when the argument matches the
 * template, `{kind: "filter", filter, raw}` when it does not (the server will say why),
 * `{kind: "preset", name}` or `{kind: "unknown", token}`.
 */
function parseChain(text) {
  const tokens = text === "" || text === "none" ? [] : text.split(",");
  const parsed = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const preset = info.presets.find((p) => p.name === token);
    const filter = info.filters.find((f) => f.name === token);
    if (preset) parsed.push({ kind: "preset", name: token });
    else if (!filter) parsed.push({ kind: "unknown", token });
    else if (filter.arity === 0) parsed.push({ kind: "filter", filter, values: {} });
    else {
      const arg = tokens[++i] ?? "";
      const match = argumentPattern(filter).exec(arg);
      parsed.push(
        match
          ? {
            kind: "filter",
            filter,
            values: Object.fromEntries(filter.fields.map((f, n) => [f.name, match[n + 1]])),
          }
          : { kind: "filter", filter, raw: arg },
      );
    }
  }
  return parsed;
}

function stepText(step) {
  if (step.kind === "preset") return step.name;
  if (step.kind === "unknown") return step.token;
  if (step.filter.arity === 0) return step.filter.name;
  const arg = step.raw ?? formatArgument(step.filter, step.values);
  return `${step.filter.name},${arg}`;
}

const chainText = () => steps.map(stepText).join(",");

// ---- Controls -------------------------------------------------------------------------------

let uid = 0;

/** One labelled control for a field of a step's argument. */
function fieldControl(step, field) {
  const id = `field-${++uid}`;
  let input;
  if (field.kind === "choice") {
    input = el("select", { id });
    for (const choice of field.choices) {
      input.append(el("option", { value: choice.value, textContent: choice.label }));
    }
  } else {
    const numeric = field.kind === "integer" || field.kind === "number";
    input = el("input", { id, type: numeric ? "number" : "text" });
    if (numeric) input.step = field.kind === "integer" ? "1" : "any";
    if (field.min !== undefined) input.min = String(field.min);
    if (field.max !== undefined) input.max = String(field.max);
  }
  input.value = step.values[field.name];
  input.addEventListener("input", () => {
    step.values[field.name] = input.value;
    $("chain").value = chainText();
    schedule();
  });
  return el(
    "div",
    { className: "field" },
    el("label", { htmlFor: id }, ...rich(field.label)),
    input,
  );
}

function stepButton(label, text, action) {
  const button = el("button", { type: "button", textContent: text, title: label });
  button.setAttribute("aria-label", label);
  button.addEventListener("click", action);
  return button;
}

function renderSteps(focusIndex) {
  const list = $("steps");
  list.replaceChildren();
  steps.forEach((step, index) => {
    const name = step.kind === "filter"
      ? step.filter.name
      : step.kind === "preset"
      ? step.name
      : step.token;
    const box = el("fieldset", { className: "step" });
    let summary;
    if (step.kind === "filter") summary = step.filter.summary;
    else if (step.kind === "preset") {
      summary = `preset: ${info.presets.find((p) => p.name === step.name).definition}`;
    } else summary = "not a filter or preset of this server";
    // The legend holds the short name only: a long legend is drawn across the box's border.
    box.append(el("legend", {}, el("code", { textContent: name })));
    box.append(el("p", { className: "summary" }, ...rich(summary)));
    if (step.kind === "filter" && step.raw !== undefined) {
      const id = `field-${++uid}`;
      const input = el("input", { id, value: step.raw, spellcheck: false });
      input.addEventListener("input", () => {
        step.raw = input.value;
        $("chain").value = chainText();
        schedule();
      });
      const hint = `Argument, written as ${step.filter.template || "nothing"}`;
      box.append(
        el("div", { className: "field" }, el("label", { htmlFor: id, textContent: hint }), input),
      );
    } else if (step.kind === "filter") {
      box.append(...step.filter.fields.map((field) => fieldControl(step, field)));
    }
    const move = (to) => () => {
      const [moved] = steps.splice(index, 1);
      steps.splice(to, 0, moved);
      changedSteps(to);
    };
    const tools = el("div", { className: "tools" });
    if (index > 0) {
      tools.append(stepButton(`Move step ${index + 1} (${name}) up`, "↑", move(index - 1)));
    }
    if (index < steps.length - 1) {
      tools.append(stepButton(`Move step ${index + 1} (${name}) down`, "↓", move(index + 1)));
    }
    tools.append(stepButton(`Remove step ${index + 1} (${name})`, "Remove", () => {
      steps.splice(index, 1);
      changedSteps(Math.min(index, steps.length - 1));
    }));
    box.append(tools);
    list.append(el("li", {}, box));
  });
  if (focusIndex !== undefined && focusIndex >= 0) {
    list.children[focusIndex]?.querySelector("input, select, button")?.focus();
  }
}

function changedSteps(focusIndex) {
  $("chain").value = chainText();
  renderSteps(focusIndex);
  schedule();
}

function formatText() {
  const format = info.formats.find((f) => f.name === $("format").value);
  if (format.lossless && $("lossless").checked) return `${format.name},lossless`;
  const quality = $("quality").value.trim();
  return format.quality && quality ? `${format.name},${quality}` : format.name;
}

function updateFormatControls() {
  const format = info.formats.find((f) => f.name === $("format").value);
  $("quality").disabled = !format.quality || (format.lossless && $("lossless").checked);
  $("lossless-label").hidden = !format.lossless;
  // Each format's own default (AVIF's is not JPEG's); `auto` says both when it may pick AVIF.
  const avif = format.defaultAvifQuality;
  $("quality").placeholder = !format.quality
    ? "not used"
    : avif !== undefined && avif !== format.defaultQuality
    ? `${format.defaultQuality} (AVIF: ${avif})`
    : String(format.defaultQuality);
}

function buildControls() {
  $("storage").replaceChildren(
    ...info.storages.map((name) => el("option", { value: name, textContent: name })),
  );
  $("examples").replaceChildren(
    ...info.examples.map((e) => el("option", { value: e.path, label: `${e.storage}: ${e.path}` })),
  );
  // A photograph when there is one: the filters show more on it than on a logo.
  const first = info.examples.find((e) => /\.jpe?g$/i.test(e.path)) ?? info.examples[0];
  if (first) {
    $("storage").value = first.storage;
    $("path").value = first.path;
  }
  $("format").replaceChildren(
    ...info.formats.map((f) => el("option", { value: f.name, textContent: f.name })),
  );
  $("format").value = info.formats.some((f) => f.name === "auto") ? "auto" : info.formats[0].name;
  const filterGroup = el("optgroup", { label: "Filters" });
  for (const f of info.filters) {
    filterGroup.append(
      el("option", { value: `filter:${f.name}`, textContent: `${f.name}: ${plain(f.summary)}` }),
    );
  }
  const presetGroup = el("optgroup", { label: "Presets" });
  for (const p of info.presets) {
    presetGroup.append(
      el("option", { value: `preset:${p.name}`, textContent: `${p.name} (${p.definition})` }),
    );
  }
  $("add-step").replaceChildren(filterGroup, ...(info.presets.length ? [presetGroup] : []));
  const resize = info.filters.find((f) => f.name === "s") ?? info.filters[0];
  steps = resize ? [{ kind: "filter", filter: resize, values: defaults(resize) }] : [];
  $("chain").value = chainText();
  restoreFromHash();
  renderSteps();
  updateFormatControls();
}

/** The page's state in its address (`#storage=…&path=…&chain=…&format=…`), to share or reload. */
function saveToHash(storage, path) {
  const state = new URLSearchParams({
    storage,
    path,
    chain: $("chain").value,
    format: formatText(),
  });
  history.replaceState(null, "", `#${state}`);
}

function restoreFromHash() {
  const state = new URLSearchParams(location.hash.slice(1));
  if (info.storages.includes(state.get("storage"))) $("storage").value = state.get("storage");
  if (state.has("path")) $("path").value = state.get("path");
  if (state.has("chain")) {
    $("chain").value = state.get("chain");
    steps = parseChain($("chain").value);
  }
  const [name, argument = ""] = (state.get("format") ?? "").split(",");
  if (!info.formats.some((f) => f.name === name)) return;
  $("format").value = name;
  $("lossless").checked = argument === "lossless";
  $("quality").value = /^\d+$/.test(argument) ? argument : "";
}

// ---- Results --------------------------------------------------------------------------------

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 250);
}

async function refresh() {
  const mine = ++generation;
  const storage = $("storage").value;
  const path = $("path").value.trim();
  showError("");
  if (!storage || !path) return showError("Choose a storage and type the path of an image in it");
  saveToHash(storage, path);
  const urlFor = async (chain, format) => {
    const query = new URLSearchParams({ chain, format, storage, path });
    return (await (await call(`/playground/url?${query}`)).json()).url;
  };
  // An empty chain converts only: the server spells it `none`.
  const chain = $("chain").value.trim() || "none";
  try {
    const [resultUrl, sourceUrl, infoUrl] = await Promise.all([
      urlFor(chain, formatText()),
      urlFor(info.sourceChain, "auto"),
      urlFor(chain, "info"),
    ]);
    if (mine !== generation) return;
    $("url").value = new URL(resultUrl, location.href).href;
    const outcomes = await Promise.allSettled([
      // The info format answers JSON, shown in the info panel rather than as an image.
      formatText() === "info" ? clearFigure("result") : show("result", resultUrl, mine),
      show("source", sourceUrl, mine),
      showInfo(infoUrl, mine),
    ]);
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed && mine === generation) showError(failed.reason.message);
  } catch (error) {
    if (mine === generation) showError(error.message);
  }
}

/** Loads one image through fetch (for the token, the size, the time and the headers). */
async function show(which, url, mine) {
  const figure = $(which);
  const img = figure.querySelector("img");
  const started = performance.now();
  let response;
  try {
    // The Accept an <img> of this browser would send, so `auto` picks what a page would get.
    response = await call(url, "image/avif,image/webp,image/apng,image/*,*/*;q=0.8");
  } catch (error) {
    if (mine === generation) clearFigure(which);
    throw error;
  }
  const blob = await response.blob();
  const ms = performance.now() - started;
  if (mine !== generation) return;
  const objectUrl = URL.createObjectURL(blob);
  URL.revokeObjectURL(objectUrls.get(which));
  objectUrls.set(which, objectUrl);
  img.src = objectUrl;
  await img.decode();
  img.hidden = false;
  const facts = [
    ["Size", `${img.naturalWidth} × ${img.naturalHeight} px`],
    ["Type", response.headers.get("content-type") ?? "?"],
    ["Bytes", blob.size.toLocaleString("en")],
    ["Time", `${ms.toFixed(0)} ms`],
    ["Cache", response.headers.get("x-cache") ?? "?"],
  ];
  figure.querySelector("dl").replaceChildren(
    ...facts.flatMap((
      [term, value],
    ) => [el("dt", { textContent: term }), el("dd", { textContent: value })]),
  );
  figure.dataset.width = String(img.naturalWidth);
  figure.dataset.height = String(img.naturalHeight);
}

/** Shows the `info` answer of the chain, and its ThumbHash drawn at the result's size. */
async function showInfo(url, mine) {
  let answer;
  try {
    answer = await (await call(url)).json();
  } catch (error) {
    if (mine === generation) clearInfo();
    throw error;
  }
  const query = new URLSearchParams({ thumbhash: answer.thumbhash });
  const placeholder = (await (await call(`/playground/placeholder?${query}`)).json()).url;
  if (mine !== generation) return;
  $("info-json").textContent = JSON.stringify(answer, null, 2);
  const img = $("placeholder").querySelector("img");
  img.src = placeholder;
  // Stretched to the result's size, as a page would show it while the image loads.
  img.width = answer.width;
  img.height = answer.height;
}

function clearInfo() {
  $("info-json").textContent = "";
  $("placeholder").querySelector("img").removeAttribute("src");
}

/** After an error: no image at all (not a broken one); the message shows in its place. */
function clearFigure(which) {
  const figure = $(which);
  const img = figure.querySelector("img");
  img.removeAttribute("src");
  img.hidden = true;
  figure.querySelector("dl").replaceChildren();
  delete figure.dataset.width;
  delete figure.dataset.height;
}

/** Shows the server's message in the result's place (or clears it, given ""). */
function showError(message) {
  $("error").textContent = message;
  $("error").hidden = message === "";
  if (message) clearFigure("result");
}

// ---- Start ----------------------------------------------------------------------------------

function wire() {
  $("chain").addEventListener("input", () => {
    steps = parseChain($("chain").value);
    renderSteps();
    schedule();
  });
  for (const id of ["storage", "path", "quality"]) $(id).addEventListener("input", schedule);
  for (const id of ["format", "lossless"]) {
    $(id).addEventListener("change", () => {
      updateFormatControls();
      schedule();
    });
  }
  $("add").addEventListener("click", () => {
    const [kind, name] = $("add-step").value.split(":");
    const filter = info.filters.find((f) => f.name === name);
    steps.push(kind === "preset" ? { kind, name } : { kind, filter, values: defaults(filter) });
    changedSteps(steps.length - 1);
  });
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("url").value);
      $("copied").textContent = "Copied";
    } catch {
      $("url").select();
      $("copied").textContent = "Selected: press Ctrl+C to copy";
    }
  });
}

async function start() {
  try {
    info = await (await call("/playground/filters.json")).json();
  } catch (error) {
    if (error.status !== 401) return showError(error.message);
    $("token-box").hidden = false;
    if (token) $("token-note").textContent = "That token was refused: try another.";
    $("token").focus();
    return;
  }
  $("token-box").hidden = !info.token;
  $("token").value = token;
  buildControls();
  wire();
  await refresh();
}

// Enter in a control only refreshes sooner; the controls already apply as they change.
$("controls").addEventListener("submit", (event) => {
  event.preventDefault();
  if (info) refresh();
});

$("token-box").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("impressionist-token", token);
  if (!info) start();
  else refresh();
});

start();
