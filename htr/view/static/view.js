// htr view: the scan with its line and word polygons (an SVG, zoomed with a CSS transform) beside the text of
// each line, editable. Edits are kept in localStorage until the server has saved them.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (selector) => document.querySelector(selector);
const state = {
  pages: [], page: null, edits: {}, selected: null, threshold: 0.7,
  view: {s: 1, x: 0, y: 0}, opening: null, drag: null,
};

// ---------------------------------------------------------------------------------------------- helpers

function element(tag, attrs = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function showStatus(text, kind = "") {
  const node = $("#status");
  node.textContent = text;
  node.className = kind;
}

async function api(method, url, body) {
  const options = {method, headers: {}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  return {code: response.status, ok: response.ok, data};
}

const encodeId = (id) => id.split("/").map(encodeURIComponent).join("/");
const points = (polygon) => polygon.map(([x, y]) => `${x},${y}`).join(" ");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const lineById = (id) => state.page.lines.find((line) => line.id === id);
const rowOf = (id) => $(`#line-list li[data-id="${CSS.escape(id)}"]`);
const shapeOf = (id) => $(`#overlay g[data-id="${CSS.escape(id)}"]`);
const textOf = (line) => (state.edits[line.id] ? state.edits[line.id].text : line.text);
const isChecked = (line) => (state.edits[line.id] ? state.edits[line.id].checked : line.checked);
const isDirty = () => Object.keys(state.edits).length > 0;
const draftKey = (id) => `htr-view:${location.host}:${id}`;

// ---------------------------------------------------------------------------------------------- pages

function pageLabel(page) {
  if (!page.read) return `${page.id} (not read yet)`;
  return page.lines === undefined ? page.id : `${page.id} (${page.checked}/${page.lines} checked)`;
}

async function loadList() {
  const {ok, data} = await api("GET", "/api/pages").catch(() => ({ok: false, data: {}}));
  if (!ok) return showStatus(data.error || "The server cannot be reached", "error");
  state.pages = data.pages;
  state.threshold = data.threshold;
  $("#threshold").value = data.threshold;
  $("#pages").replaceChildren(...data.pages.map((page) => new Option(pageLabel(page), page.id)));
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (!state.pages.length) return showStatus("No pages found", "error");
  openPage(state.pages.some((page) => page.id === wanted) ? wanted : state.pages[0].id);
}

async function openPage(id) {
  if (state.page && state.page.id !== id && isDirty() && !(await save())) {
    $("#pages").value = state.page.id;
    return;  // the edits could not be saved: stay on the page (they are kept in this browser too)
  }
  const token = (state.opening = {});
  $("#pages").value = id;
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  const started = Date.now();
  for (;;) {
    const {code, data} = await api("GET", "/api/page/" + encodeId(id)).catch(() => ({code: 0, data: {}}));
    if (state.opening !== token) return;  // another page was asked for meanwhile
    if (code === 202) {
      progress(`Reading the page (first view) … ${Math.round((Date.now() - started) / 1000)} s`);
      await sleep(500);
      continue;
    }
    progress(null);
    if (code !== 200) return showStatus(data.error || "The server cannot be reached", "error");
    state.page = data;
    break;
  }
  const entry = state.pages.find((page) => page.id === id);
  if (entry && !entry.read) Object.assign(entry, {read: true, lines: state.page.lines.length, checked: 0});
  updateLabel();
  state.edits = restoreDraft();
  state.selected = null;
  render();
  fit();
  if (state.page.lines.length) select(state.page.lines[0].id, {reveal: false});
  showStatus(isDirty() ? "Unsaved edits restored from this browser" : `${state.page.lines.length} lines`,
             isDirty() ? "unsaved" : "");
}

function progress(text) {
  $("#progress").hidden = text === null;
  $("#progress-text").textContent = text || "";
  if (text) showStatus("Reading…");
}

function turnPage(delta) {
  const index = state.pages.findIndex((page) => page.id === (state.page && state.page.id));
  const next = state.pages[index + delta];
  if (next) openPage(next.id);
}

function updateLabel(checked) {
  const entry = state.page && state.pages.find((page) => page.id === state.page.id);
  if (!entry) return;
  if (checked !== undefined) entry.checked = checked;
  const option = [...$("#pages").options].find((o) => o.value === entry.id);
  if (option) option.textContent = pageLabel(entry);
}

// ---------------------------------------------------------------------------------------------- drawing

function render() {
  const page = state.page;
  const stage = $("#stage"), svg = $("#overlay");
  stage.style.width = `${page.width}px`;
  stage.style.height = `${page.height}px`;
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  svg.setAttribute("width", page.width);
  svg.setAttribute("height", page.height);
  svg.replaceChildren();
  if (page.image) {
    svg.append(element("svg:image", {href: `/api/image/${encodeId(page.id)}`, x: 0, y: 0,
                                      width: page.width, height: page.height, preserveAspectRatio: "none"}));
  }
  for (const line of page.lines) {
    const group = element("svg:g", {class: "line", "data-id": line.id});
    group.append(element("svg:polygon", {class: "outline", points: points(line.polygon)}));
    line.words.forEach((word) => group.append(element("svg:polygon", {class: "word", points: points(word.polygon)})));
    svg.append(group);
  }
  $("#line-list").replaceChildren(...page.lines.map(lineRow));
  page.lines.forEach(paintLine);
}

function lineRow(line, index) {
  const row = element("li", {class: "line", "data-id": line.id});
  const mark = element("button", {class: "mark", type: "button", title: "Checked (click or Enter to mark)"}, "✓");
  const shown = element("span", {class: "shown"});
  const input = element("input", {type: "text", spellcheck: "false", "aria-label": `Line ${index + 1}`});
  input.hidden = true;
  mark.addEventListener("click", (event) => {
    event.stopPropagation();
    edit(line.id, {checked: !isChecked(line)});
  });
  row.addEventListener("click", () => select(line.id));
  input.addEventListener("input", () => edit(line.id, {text: input.value, checked: true}));
  input.addEventListener("keydown", (event) => lineKeys(event, line));
  row.append(mark, shown, input);
  return row;
}

// The line's state on both sides: checked, edited, and (unchecked, unedited) words under the threshold.
function paintLine(line) {
  const row = rowOf(line.id), shape = shapeOf(line.id);
  const text = textOf(line), checked = isChecked(line), edited = text !== line.text;
  row.classList.toggle("checked", checked);
  row.classList.toggle("edited", edited);
  shape.classList.toggle("checked", checked);
  const spelled = line.words.length && line.words.map((word) => word.text).join(" ") === text;
  const low = (word) => !checked && word.confidence !== null && word.confidence < state.threshold;
  const shown = row.querySelector(".shown");
  shown.replaceChildren();
  if (spelled && !edited) {
    line.words.forEach((word, i) => {
      if (i) shown.append(" ");
      shown.append(element("span", {class: low(word) ? "word low" : "word",
                                    title: word.confidence === null ? "" : `confidence ${word.confidence}`}, word.text));
    });
  } else {
    shown.textContent = text || "\u00a0";
  }
  [...shape.querySelectorAll(".word")].forEach((node, i) => node.classList.toggle("low", !!spelled && !edited && low(line.words[i])));
}

function select(id, {focus = true, reveal = true} = {}) {
  if (state.selected && rowOf(state.selected)) {
    const before = rowOf(state.selected);
    before.classList.remove("selected");
    before.querySelector("input").hidden = true;
    before.querySelector(".shown").hidden = false;
    shapeOf(state.selected).classList.remove("selected");
  }
  state.selected = id;
  const line = lineById(id), row = rowOf(id), input = row.querySelector("input");
  row.classList.add("selected");
  shapeOf(id).classList.add("selected");
  row.querySelector(".shown").hidden = true;
  input.hidden = false;
  if (input.value !== textOf(line)) input.value = textOf(line);
  if (focus) input.focus();
  row.scrollIntoView({block: "nearest"});
  if (reveal) revealLine(line);
}

function moveLine(delta) {
  const lines = state.page.lines;
  const index = lines.findIndex((line) => line.id === state.selected);
  const next = lines[Math.min(Math.max(index + delta, 0), lines.length - 1)];
  if (next) select(next.id);
}

// ---------------------------------------------------------------------------------------------- editing

function edit(id, change) {
  const line = lineById(id);
  const value = {text: textOf(line), checked: isChecked(line), ...change};
  if (value.text === line.text && value.checked === line.checked) delete state.edits[id];
  else state.edits[id] = value;
  storeDraft();
  paintLine(line);
  showStatus(isDirty() ? "Unsaved edits" : "No unsaved edits", isDirty() ? "unsaved" : "");
}

function lineKeys(event, line) {
  if (event.key === "ArrowDown" || (event.key === "Tab" && !event.shiftKey)) moveLine(1);
  else if (event.key === "ArrowUp" || (event.key === "Tab" && event.shiftKey)) moveLine(-1);
  else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
    edit(line.id, {checked: true});
    moveLine(1);
  } else if (event.key === "Escape") {
    delete state.edits[line.id];
    storeDraft();
    event.target.value = line.text;
    paintLine(line);
  } else return;
  event.preventDefault();
}

function storeDraft() {
  try {
    if (isDirty()) localStorage.setItem(draftKey(state.page.id), JSON.stringify({version: state.page.version, edits: state.edits}));
    else localStorage.removeItem(draftKey(state.page.id));
  } catch (error) { /* storage full or off: the edits stay in this tab */ }
}

function restoreDraft() {
  try {
    const draft = JSON.parse(localStorage.getItem(draftKey(state.page.id)) || "null");
    if (draft && draft.version === state.page.version) {
      const ids = new Set(state.page.lines.map((line) => line.id));
      return Object.fromEntries(Object.entries(draft.edits).filter(([id]) => ids.has(id)));
    }
  } catch (error) { /* a draft that cannot be read is dropped */ }
  return {};
}

async function save() {
  if (!state.page || !isDirty()) {
    showStatus("Nothing to save");
    return true;
  }
  const page = state.page, sent = JSON.parse(JSON.stringify(state.edits));
  const body = {version: page.version, lines: Object.entries(sent).map(([id, e]) => ({id, text: e.text, checked: e.checked}))};
  showStatus("Saving…");
  const result = await api("POST", "/api/page/" + encodeId(page.id), body).catch(() => null);
  if (state.page !== page) return false;
  if (!result || !result.ok) {
    const reason = result ? result.data.error || `error ${result.code}` : "the server cannot be reached";
    showStatus(`Not saved: ${reason} (the edits are kept in this browser)`, "error");
    return false;
  }
  page.version = result.data.version;
  const fresh = await api("GET", "/api/page/" + encodeId(page.id)).catch(() => null);
  for (const [id, value] of Object.entries(sent)) {  // edits made while saving stay
    const now = state.edits[id];
    if (now && now.text === value.text && now.checked === value.checked) delete state.edits[id];
  }
  if (fresh && fresh.ok && state.page === page) {
    state.page = fresh.data;
    const selected = state.selected;
    render();
    if (selected) select(selected, {reveal: false});
  }
  storeDraft();
  updateLabel(result.data.checked);
  showStatus(`Saved: ${result.data.checked} of ${page.lines.length} lines checked`, "saved");
  return true;
}

async function exportPages() {
  if (isDirty() && !(await save())) return;
  showStatus("Exporting…");
  const result = await api("POST", "/api/export", {}).catch(() => null);
  if (!result || !result.ok) return showStatus(`Not exported: ${result ? result.data.error : "the server cannot be reached"}`, "error");
  const {pages, lines, folder} = result.data;
  showStatus(`Exported ${pages} pages (${lines} checked lines) to ${folder}`, "saved");
}

// ---------------------------------------------------------------------------------------------- zoom

function applyView() {
  const {s, x, y} = state.view;
  $("#stage").style.transform = `translate(${x}px, ${y}px) scale(${s})`;
}

function fit() {
  const box = $("#scan").getBoundingClientRect(), page = state.page;
  const s = Math.min(box.width / page.width, box.height / page.height) * 0.98 || 1;
  state.view = {s, x: (box.width - page.width * s) / 2, y: (box.height - page.height * s) / 2};
  applyView();
}

function zoom(factor, cx, cy) {
  const view = state.view, s = Math.min(Math.max(view.s * factor, 0.02), 20);
  if (cx === undefined) {
    const box = $("#scan").getBoundingClientRect();
    [cx, cy] = [box.width / 2, box.height / 2];
  }
  state.view = {s, x: cx - ((cx - view.x) * s) / view.s, y: cy - ((cy - view.y) * s) / view.s};
  applyView();
}

// Bring the line into the scan's view when it is outside it.
function revealLine(line) {
  if (!line.polygon.length) return;
  const box = $("#scan").getBoundingClientRect(), {s, x, y} = state.view;
  const xs = line.polygon.map((p) => p[0] * s + x), ys = line.polygon.map((p) => p[1] * s + y);
  const inside = Math.min(...xs) >= 0 && Math.max(...xs) <= box.width && Math.min(...ys) >= 0 && Math.max(...ys) <= box.height;
  if (inside) return;
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  state.view = {s, x: x + box.width / 2 - cx, y: y + box.height / 2 - cy};
  applyView();
}

function setUpScan() {
  const scan = $("#scan");
  scan.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = scan.getBoundingClientRect();
    zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, {passive: false});
  scan.addEventListener("pointerdown", (event) => {
    state.drag = {x: event.clientX, y: event.clientY, view: {...state.view}, moved: false};
  });
  window.addEventListener("pointermove", (event) => {
    const drag = state.drag;
    if (!drag) return;
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (drag.moved) {
      state.view = {...drag.view, x: drag.view.x + dx, y: drag.view.y + dy};
      applyView();
    }
  });
  window.addEventListener("pointerup", () => setTimeout(() => (state.drag = null)));
  $("#overlay").addEventListener("click", (event) => {
    const group = event.target.closest("g.line");
    if (group && !(state.drag && state.drag.moved)) select(group.dataset.id, {reveal: false});
  });
}

// ---------------------------------------------------------------------------------------------- start

function setUp() {
  setUpScan();
  $("#pages").addEventListener("change", (event) => openPage(event.target.value));
  $("#prev-page").addEventListener("click", () => turnPage(-1));
  $("#next-page").addEventListener("click", () => turnPage(1));
  $("#save").addEventListener("click", save);
  $("#export").addEventListener("click", exportPages);
  $("#zoom-in").addEventListener("click", () => zoom(1.25));
  $("#zoom-out").addEventListener("click", () => zoom(0.8));
  $("#zoom-fit").addEventListener("click", fit);
  $("#threshold").addEventListener("input", (event) => {
    state.threshold = Number(event.target.value);
    if (state.page) state.page.lines.forEach(paintLine);
  });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    } else if (event.key === "PageDown" || event.key === "PageUp") {
      event.preventDefault();
      turnPage(event.key === "PageDown" ? 1 : -1);
    } else if (document.activeElement === document.body && state.page && ["ArrowDown", "ArrowUp"].includes(event.key)) {
      event.preventDefault();
      moveLine(event.key === "ArrowDown" ? 1 : -1);
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (isDirty()) event.preventDefault();  // the edits are in localStorage too, restored on the next visit
  });
  loadList();
}

setUp();
