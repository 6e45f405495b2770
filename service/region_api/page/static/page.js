// The page's one module: an image, boxes drawn on it with the mouse, and the regions that the
// region API (/v1/model, /classify-regions) answers, drawn over it. No framework, no build.

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const context = canvas.getContext("2d");
const state = {
  model: null, // GET /v1/model
  file: null, // the image as chosen: sent as it is
  image: null, // the same, decoded by the browser for drawing (null if it cannot show it)
  boxes: [], // [x1, y1, x2, y2] in image pixels, x2 and y2 exclusive
  drag: null, // {from: [x, y], to: [x, y]} while the mouse draws a box
  answer: null, // the last 200 answer
  masks: null, // superpixels: an offscreen canvas with every mask painted
  asked: 0, // requests sent: an answer to an older one is dropped
};
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
  "#bfef45", "#fabed4", "#469990", "#9a6324", "#800000", "#aaffc3", "#808000", "#000075"];

function isBackground(label) {
  const model = state.model;
  return model !== null && model.background_class >= 0
    && label === model.classes[model.background_class];
}

function colour(label) {
  const index = state.model ? state.model.classes.indexOf(label) : -1;
  return isBackground(label) ? "#9e9e9e" : PALETTE[Math.max(index, 0) % PALETTE.length];
}

function setStatus(text, phase) {
  $("status").textContent = text;
  document.body.dataset.phase = phase; // idle | busy | done | error: what tests wait on
  if (phase === "done" || phase === "error") {
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
  }
}

async function describeModel() {
  const response = await fetch("v1/model");
  const body = await response.json();
  if (!response.ok) {
    $("model").textContent = `model unavailable: ${body.detail}`;
    return;
  }
  state.model = body;
  $("model").textContent =
    `${body.name} ${body.version} · ${body.classes.length} classes · ${body.provider}`;
  $("top-k").max = body.classes.length;
  updateButtons();
}

function updateButtons() {
  const modes = state.model ? state.model.input.modes : [];
  for (const mode of ["boxes", "proposals", "superpixels"]) {
    const usable = state.file !== null && modes.includes(mode);
    $(`run-${mode}`).disabled = !usable || (mode === "boxes" && state.boxes.length === 0);
    $(`run-${mode}`).title = modes.includes(mode) ? "" : "the model has no head for this mode";
  }
}

async function load(file) {
  state.file = file;
  state.boxes = [];
  state.image = null;
  showAnswer(null);
  const image = new Image();
  image.src = URL.createObjectURL(file);
  try {
    await image.decode();
    state.image = image;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    setStatus(`${file.name}: ${image.naturalWidth} × ${image.naturalHeight} px`, "idle");
  } catch {
    setStatus(`${file.name}: this browser cannot show it; the server may still read it`, "idle");
  }
  redraw();
  updateButtons();
}

async function classify(mode) {
  const form = new FormData();
  form.append("image", state.file);
  form.append("mode", mode);
  form.append("top_k", $("top-k").value);
  if (mode === "boxes") form.append("boxes", JSON.stringify(state.boxes));
  const asked = ++state.asked;
  setStatus(`${mode}: waiting for the server…`, "busy");
  const started = performance.now();
  let response, body;
  try {
    response = await fetch("classify-regions", { method: "POST", body: form });
    body = await response.json();
  } catch (error) {
    setStatus(`${mode}: no answer from the server (${error.message})`, "error");
    return;
  }
  if (asked !== state.asked) return;
  const roundTrip = performance.now() - started;
  $("json").textContent = JSON.stringify(body, null, 2);
  if (!response.ok) {
    showAnswer(null);
    setStatus(`${body.status} ${body.title}: ${body.detail}`, "error");
    return;
  }
  showAnswer(body);
  const labelled = body.regions.filter((region) => !isBackground(region.label)).length;
  setStatus(`${mode}: ${body.regions.length} regions, ${labelled} not background`, "done");
  const parts = Object.entries(body.timing_ms).map(([step, ms]) => `${step} ${ms.toFixed(1)}`);
  $("timing").textContent = `server ms: ${parts.join(" · ")}; round trip ${roundTrip.toFixed(0)} ms`;
}

function showAnswer(answer) {
  state.answer = answer;
  state.masks = answer && answer.mode === "superpixels" ? paintMasks(answer) : null;
  if (answer === null) {
    $("timing").textContent = "";
  } else if (state.image === null) {
    canvas.width = answer.image.width;
    canvas.height = answer.image.height;
  }
  const rows = (answer ? answer.regions : []).map((region) => {
    const row = document.createElement("tr");
    row.dataset.label = region.label;
    row.style.color = colour(region.label);
    for (const cell of [region.index, region.label, region.score.toFixed(3),
      region.box.map((v) => Math.round(v)).join(", ")]) {
      row.insertCell().textContent = cell;
    }
    return row;
  });
  document.querySelector("#regions tbody").replaceChildren(...rows);
  redraw();
}

// COCO's compressed run-length counts (pycocotools' rleFrString): 6 bits a character, 5 of
// value and one "more follows"; the sign bit extends the last; from the third count on, each
// is stored as a difference from the count two before it.
function decodeCounts(text) {
  const counts = [];
  for (let at = 0; at < text.length;) {
    let value = 0, shift = 0, more = true;
    while (more) {
      const bits = text.charCodeAt(at++) - 48;
      value |= (bits & 0x1f) << shift;
      shift += 5;
      more = (bits & 0x20) !== 0;
      if (!more && (bits & 0x10) !== 0) value |= -1 << shift;
    }
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

// Every superpixel's mask on one offscreen canvas: labelled ones filled in their class's
// colour, background ones only outlined.
function paintMasks(answer) {
  const { width, height } = answer.image;
  const owner = new Int32Array(width * height).fill(-1);
  for (const region of answer.regions) {
    let pixel = 0, inside = false;
    for (const run of decodeCounts(region.mask.counts)) { // column-major, zeros first
      if (inside) {
        for (let i = pixel; i < pixel + run; i++) {
          owner[(i % height) * width + Math.floor(i / height)] = region.index;
        }
      }
      pixel += run;
      inside = !inside;
    }
  }
  const pixels = new ImageData(width, height);
  const rgb = answer.regions.map((region) => hexToRgb(colour(region.label)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * width + x, id = owner[at];
      if (id < 0) continue;
      const edge = (x > 0 && owner[at - 1] !== id) || (x + 1 < width && owner[at + 1] !== id)
        || (y > 0 && owner[at - width] !== id) || (y + 1 < height && owner[at + width] !== id);
      const background = isBackground(answer.regions[id].label);
      if (background && !edge) continue;
      pixels.data.set([...rgb[id], background ? 140 : edge ? 230 : 110], at * 4);
    }
  }
  const masks = new OffscreenCanvas(width, height);
  masks.getContext("2d").putImageData(pixels, 0, 0);
  return masks;
}

function hexToRgb(hex) {
  return [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
}

function redraw() {
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (state.image) context.drawImage(state.image, 0, 0);
  if (state.masks) context.drawImage(state.masks, 0, 0);
  const tags = [];
  for (const region of state.answer ? state.answer.regions : []) {
    if (state.answer.mode !== "superpixels") outline(region.box, colour(region.label), []);
    if (!isBackground(region.label)) tags.push(tag(region, state.answer.image));
  }
  $("tags").replaceChildren(...tags);
  for (const box of state.boxes) outline(box, "#ffffff", [4, 3]);
  if (state.drag) outline(dragBox(state.drag), "#ffffff", [4, 3]);
}

// Image pixels per CSS pixel: lines and labels keep their size on screen at any zoom.
function unit() {
  return canvas.width / (canvas.getBoundingClientRect().width || canvas.width);
}

function outline([x1, y1, x2, y2], stroke, dash) {
  context.setLineDash(dash.map((length) => length * unit()));
  context.lineWidth = 2 * unit();
  context.strokeStyle = stroke;
  context.strokeRect(x1, y1, x2 - x1, y2 - y1);
  context.setLineDash([]);
}

// Labels are elements over the picture, placed in percent of the image: crisp at any zoom.
function tag(region, { width, height }) {
  const label = document.createElement("span");
  label.className = "tag";
  label.textContent = `${region.label} ${region.score.toFixed(2)}`;
  label.style.background = colour(region.label);
  label.style.left = `${(100 * region.box[0]) / width}%`;
  label.style.top = `${(100 * region.box[1]) / height}%`;
  return label;
}

// The mouse's position in image pixels, whatever size the canvas is shown at.
function imagePoint(event) {
  const shown = canvas.getBoundingClientRect();
  const clamp = (value, limit) => Math.min(Math.max(Math.round(value), 0), limit);
  return [
    clamp(((event.clientX - shown.left) * canvas.width) / shown.width, canvas.width),
    clamp(((event.clientY - shown.top) * canvas.height) / shown.height, canvas.height),
  ];
}

function dragBox({ from, to }) {
  return [Math.min(from[0], to[0]), Math.min(from[1], to[1]),
    Math.max(from[0], to[0]), Math.max(from[1], to[1])];
}

canvas.addEventListener("pointerdown", (event) => {
  if (state.image === null) return;
  canvas.setPointerCapture(event.pointerId);
  state.drag = { from: imagePoint(event), to: imagePoint(event) };
});
canvas.addEventListener("pointermove", (event) => {
  if (state.drag === null) return;
  state.drag.to = imagePoint(event);
  redraw();
});
canvas.addEventListener("pointerup", () => {
  if (state.drag === null) return;
  const box = dragBox(state.drag);
  state.drag = null;
  if (box[2] - box[0] >= 2 && box[3] - box[1] >= 2) {
    state.boxes.push(box);
    updateButtons();
    if (state.model && state.model.input.modes.includes("boxes")) classify("boxes");
  }
  redraw();
});

$("file").addEventListener("change", () => {
  if ($("file").files.length > 0) load($("file").files[0]);
});
$("stage").addEventListener("dragover", (event) => event.preventDefault());
$("stage").addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer.files.length > 0) load(event.dataTransfer.files[0]);
});
for (const mode of ["boxes", "proposals", "superpixels"]) {
  $(`run-${mode}`).addEventListener("click", () => classify(mode));
}
$("clear").addEventListener("click", () => {
  state.boxes = [];
  showAnswer(null);
  $("json").textContent = "";
  updateButtons();
});

setStatus("Choose or drop an image.", "idle");
describeModel();
