// The page: load LiteRT.js and an exported Fast-SCNN .tflite, then segment photos and webcam
// frames on this machine. What predict.py does for a .tflite, step for step (see segment.js).
//
// URL parameters: ?model=URL (a .tflite; its export metadata is read from the same URL with
// .json), ?backend=wasm|webgpu (default: WebGPU when the browser offers it, else Wasm CPU).

import {getGlobalLiteRt, getWebGpuDevice, loadAndCompile, loadLiteRt, supportsFeature, Tensor}
  from '@litertjs/core';
import {FORMATS, photoSize, SizeUnknown} from './imagesize.js';
import {classCounts, colourise, resizeBilinearRgb, resizeNearest, rgbaToRgb} from './segment.js';
import {isTflite, withBatchOfOne} from './tflite.js';

const WASM_DIR = new URL('../node_modules/@litertjs/core/wasm/', import.meta.url).href;
// What `make web` exports from models/camvid (export.py's file names; int8 only where
// data/CamVid is there to calibrate it): the menu offers those that exist.
const SHIPPED = [
  {url: 'models/fast_scnn_cls_float32_360x480.tflite', label: 'CamVid float32 (shipped)'},
  {url: 'models/fast_scnn_cls_int8_360x480.tflite', label: 'CamVid int8 (shipped)'},
];
// predict.py's default --max-pixels: larger photos are refused before they are decoded.
const MAX_PIXELS = 8192 * 8192;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  runtime: null,    // {accelerator, label, threads}
  model: null,      // {compiled, name, url, width, height, labelIndex, classes, hasMeta}
  photo: null,      // {rgba, width, height}: the last photo, for re-runs and the benchmark
  webcam: null,     // {stream, frameTimes}
  frames: 0,
  last: null,       // the last result: {labels, width, height, timing}
  modelTimes: [],   // ms of the model's recent frames, for the median shown
};

// ---------- messages: every failure ends on the page, not only in the console ----------

function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof error === 'number') return `the runtime aborted (Wasm exception ${error})`;
  return String(error);
}

function showError(error) {
  const box = $('error');
  box.textContent = describe(error);
  box.hidden = false;
  setStatus('');
  document.body.dataset.state = 'error';
  console.error(error);
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function setStatus(text) {
  $('status').textContent = text;
}

// Let the browser show what the page says (a status, a busy state) before work that blocks it
// for a while: the next frame, then a task after it (a timeout where frames are not drawn).
function nextPaint() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => setTimeout(() => {
      clearTimeout(timer);
      resolve();
    }, 0));
  });
}

window.addEventListener('error', (event) => showError(event.error || event.message));
window.addEventListener('unhandledrejection', (event) => showError(event.reason));

// Run an action from a button, a picker or a drop; its failure is shown on the page.
function guarded(action) {
  return async (...args) => {
    try {
      clearError();
      document.body.dataset.state = 'busy';
      await action(...args);
      if (document.body.dataset.state === 'busy') document.body.dataset.state = 'ready';
    } catch (error) {
      showError(error);
    }
  };
}

// ---------- runtime and model ----------

// The runtime's log lines ("INFO: [cpu_registry.cc:75] XNNPACK CPU accelerator registered.")
// come through Emscripten's stderr, which would print each as a console error: they go to the
// console at their own level, and only the rest (errors, aborts) as errors. LiteRT.js's Wasm
// loader takes `self.Module` as the settings of the module it creates.
function runtimeLog(text) {
  if (/^(INFO|VERBOSE|DEBUG)\b/.test(text)) console.info(text);
  else if (/^WARNING\b/.test(text)) console.warn(text);
  else console.error(text);
}
self.Module = {print: (text) => console.info(text), printErr: runtimeLog};

async function hasWebGpu() {
  if (!navigator.gpu) return false;
  try {
    return Boolean(await navigator.gpu.requestAdapter());
  } catch {
    return false;
  }
}

// LiteRT.js loads one of its Wasm builds once per page: the multi-threaded one for the CPU (it
// needs a cross-origin isolated page, which serve.py's headers give), the JSPI one for WebGPU
// (it lets ops that WebGPU lacks fall back to the CPU).
async function startRuntime(backend) {
  const wantGpu = backend === 'webgpu' || (backend === 'auto' && await hasWebGpu());
  const options = {};
  if (wantGpu) {
    if (await supportsFeature('jspi')) options.jspi = true;
  } else if (self.crossOriginIsolated && await supportsFeature('relaxedSimd')
             && await supportsFeature('threads')) {
    options.threads = true;
  }
  await loadLiteRt(WASM_DIR, options);
  if (wantGpu && !getWebGpuDevice()) {
    if (backend === 'webgpu') {
      throw new Error('WebGPU was asked for, but this browser gives no WebGPU device: '
                      + 'choose the Wasm CPU backend.');
    }
    return {accelerator: 'wasm', label: 'Wasm CPU', threads: 1};
  }
  if (wantGpu) return {accelerator: 'webgpu', label: 'WebGPU', threads: null};
  const threads = options.threads ? getGlobalLiteRt().liteRtWasm.getThreadCount() : 1;
  return {accelerator: 'wasm', threads,
          label: `Wasm CPU (XNNPACK, ${threads} thread${threads > 1 ? 's' : ''})`};
}

async function fetchBytes(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`could not fetch '${url}': ${describe(error)}`);
  }
  if (!response.ok) {
    const hint = url.startsWith('models/')
      ? ' (`make web` exports the shipped model: float32, and int8 when data/CamVid is there)' : '';
    throw new Error(`could not fetch '${url}': HTTP ${response.status}${hint}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchMetadata(tfliteUrl) {
  const url = tfliteUrl.replace(/\.tflite(\?.*)?$/, '.json');
  if (url === tfliteUrl) return null;
  try {
    const response = await fetch(url);
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

// Distinct colours for models exported without their metadata JSON.
function fallbackPalette(count) {
  return Array.from({length: count}, (_, i) => {
    const hue = (i * 137.508) % 360;
    const f = (n) => {
      const k = (n + hue / 30) % 12;
      return Math.round(255 * (0.5 - 0.4 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
    };
    return [f(0), f(8), f(4)];
  });
}

function classTable(meta) {
  const names = Array.isArray(meta?.class_names) ? meta.class_names : [];
  const numClasses = Number.isInteger(meta?.num_classes) ? meta.num_classes : names.length;
  const palette = Array.isArray(meta?.palette) && meta.palette.length >= numClasses
    ? meta.palette : fallbackPalette(Math.max(numClasses, 256));
  return {names, numClasses, palette};
}

// `url`: where the model came from, null for a file the user opened.
async function loadModel(name, bytes, meta, url = null) {
  setStatus(`Loading ${name}…`);
  document.body.dataset.state = 'loading';
  if (!isTflite(bytes)) {
    throw new Error(`'${name}' is not a TFLite model (no TFL3 identifier in its header): `
                    + 'choose a .tflite written by export.py --tflite.');
  }
  let compiled;
  try {
    compiled = await loadAndCompile(withBatchOfOne(bytes).bytes,
                                    {accelerator: state.runtime.accelerator});
  } catch (error) {
    throw new Error(`'${name}' could not be loaded by LiteRT.js: ${describe(error)}`);
  }
  const input = compiled.getInputDetails()[0];
  const shape = Array.from(input.shape);
  if (input.dtype !== 'uint8' || shape.length !== 4 || shape[0] !== 1 || shape[3] !== 3) {
    compiled.delete();
    throw new Error(`'${name}' takes ${input.dtype} [${shape}]; expected uint8 [1, H, W, 3] `
                    + 'RGB frames, as export.py writes them.');
  }
  const labelIndex = compiled.getOutputDetails().findIndex(
    (o) => o.shape.length === 3 && (o.dtype === 'uint8' || o.dtype === 'int32'));
  if (labelIndex < 0) {
    compiled.delete();
    throw new Error(`'${name}' has no label-map output [1, H, W]: export it with --mode cls.`);
  }
  state.model?.compiled.delete();
  state.modelTimes = [];
  state.model = {compiled, name, url, height: shape[1], width: shape[2], labelIndex,
                 classes: classTable(meta), hasMeta: Boolean(meta)};
  showModelInMenu();
  const fully = state.runtime.accelerator !== 'webgpu' || compiled.isFullyAccelerated;
  const metaSize = Array.isArray(meta?.input?.size) ? meta.input.size : null;
  const mismatch = metaSize && (metaSize[0] !== shape[1] || metaSize[1] !== shape[2])
    ? ` · its JSON describes a ${metaSize[0]}×${metaSize[1]} export: is it this model's?` : '';
  $('model-info').textContent = `${name}: input ${shape[1]}×${shape[2]}, `
    + `${state.model.classes.numClasses || '?'} classes · backend ${state.runtime.label}`
    + (fully ? '' : ' (ops WebGPU lacks run on the Wasm CPU)')
    + (meta ? '' : ' · no metadata JSON beside it: classes are numbered') + mismatch;
  $('model-info').dataset.backend = state.runtime.accelerator;
  renderLegend(null);
  document.body.dataset.state = 'ready';
  setStatus('Ready: drop a photo or start the webcam.');
  if (state.photo) await segmentPhoto();
}

async function loadModelUrl(url) {
  const [bytes, meta] = await Promise.all([fetchBytes(url), fetchMetadata(url)]);
  await loadModel(url.split('/').pop(), bytes, meta, url);
}

async function loadModelFiles(files) {
  const model = files.find((f) => f.name.toLowerCase().endsWith('.tflite'));
  if (!model) throw new Error('no .tflite among the chosen files');
  const json = files.find((f) => f.name.toLowerCase().endsWith('.json'));
  let meta = null;
  if (json) {
    try {
      meta = JSON.parse(await json.text());
    } catch (error) {
      throw new Error(`'${json.name}' is not valid JSON: ${describe(error)}`);
    }
  }
  await loadModel(model.name, new Uint8Array(await model.arrayBuffer()), meta);
}

// ---------- segmentation ----------

// predict.py's TFLite path: resize to the model's input (INTER_LINEAR), run, labels back to the
// frame's size (INTER_NEAREST). `timing.model` is the model alone: input tensor, run, output read.
async function segmentPixels(rgba, width, height) {
  const model = state.model;
  if (!model) throw new Error('no model is loaded yet');
  const t0 = performance.now();
  const rgb = width === model.width && height === model.height
    ? rgbaToRgb(rgba, width, height)
    : resizeBilinearRgb(rgba, width, height, model.width, model.height);
  const t1 = performance.now();
  const input = new Tensor(rgb, [1, model.height, model.width, 3]);
  let small;
  try {
    const outputs = await model.compiled.run(input);
    try {
      small = Uint8Array.from(await outputs[model.labelIndex].data());
    } finally {
      outputs.forEach((t) => t.delete());
    }
  } finally {
    input.delete();
  }
  const t2 = performance.now();
  const labels = resizeNearest(small, model.width, model.height, width, height);
  const t3 = performance.now();
  return {labels, width, height, timing: {resize: t1 - t0, model: t2 - t1, back: t3 - t2}};
}

function drawOverlay(result) {
  const canvas = $('overlay-canvas');
  canvas.width = result.width;
  canvas.height = result.height;
  const image = new ImageData(result.width, result.height);
  colourise(result.labels, state.model.classes.palette, image.data);
  canvas.getContext('2d').putImageData(image, 0, 0);
}

function renderLegend(labels) {
  const {names, numClasses, palette} = state.model.classes;
  const counts = labels ? classCounts(labels, Math.max(numClasses, 1)) : null;
  const legend = $('legend');
  legend.replaceChildren();
  for (let i = 0; i < numClasses; i++) {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${palette[i].join(',')})`;
    const share = counts ? ` ${(100 * counts[i] / labels.length).toFixed(1)}%` : '';
    item.append(swatch, `${names[i] ?? `class ${i}`}${share}`);
    if (counts && counts[i] === 0) item.className = 'absent';
    legend.append(item);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function showTiming({resize, model, back}) {
  const times = state.modelTimes;
  times.push(model);
  if (times.length > 30) times.shift();
  const perFrame = times.length > 1
    ? `${median(times).toFixed(1)} ms per frame (median of the last ${times.length}; `
      + `this one ${model.toFixed(1)} ms)`
    : `${model.toFixed(1)} ms per frame`;
  $('timing').textContent = `model ${perFrame} · resize ${resize.toFixed(1)} + `
    + `${back.toFixed(1)} ms · ${state.runtime.label}`;
  $('timing').dataset.modelMs = model.toFixed(2);
}

function showResult(result) {
  state.last = result;
  state.frames += 1;
  drawOverlay(result);
  showTiming(result.timing);
  $('result').dataset.frames = String(state.frames);
}

// Decode a photo exactly as stored: no colour-profile conversion and no premultiplied alpha,
// as OpenCV reads it for predict.py. Its size is read from its header first: one over the limit
// is refused before the browser allocates it.
async function readPhoto(file) {
  let size;
  try {
    size = await photoSize(file);
  } catch (error) {
    if (!(error instanceof SizeUnknown)) throw error;
    throw new Error(`'${file.name}' is not an image the page can read: ${error.message}.`);
  }
  checkPixels(file.name, size.width, size.height);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, {colorSpaceConversion: 'none',
                                            premultiplyAlpha: 'none'});
  } catch {
    throw new Error(`'${file.name}' is not an image this browser can decode `
                    + `(its header says ${size.format}): choose a ${FORMATS} photo.`);
  }
  try {
    const {width, height} = bitmap;
    checkPixels(file.name, width, height);
    const canvas = $('photo-canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d', {willReadFrequently: true});
    context.drawImage(bitmap, 0, 0);
    return {rgba: context.getImageData(0, 0, width, height).data, width, height};
  } finally {
    bitmap.close();
  }
}

function checkPixels(name, width, height) {
  if (width * height > MAX_PIXELS) {
    throw new Error(`'${name}' is ${height}×${width} (${(width * height / 1e6).toFixed(1)} `
                    + `megapixels): over the page's limit of ${MAX_PIXELS / 1048576} megapixels `
                    + '(predict.py\'s --max-pixels); scale it down first.');
  }
}

async function segmentPhoto() {
  const {rgba, width, height} = state.photo;
  document.body.dataset.state = 'busy';
  setStatus('Segmenting…');
  await nextPaint();
  const result = await segmentPixels(rgba, width, height);
  showResult(result);
  renderLegend(result.labels);
  document.body.dataset.state = 'done';
  const {height: modelHeight, width: modelWidth} = state.model;
  setStatus(`Segmented ${height}×${width} (the model sees ${modelHeight}×${modelWidth}).`);
}

async function openPhoto(file) {
  if (!state.model) throw new Error('no model is loaded yet: load a .tflite first');
  stopWebcam();
  setStatus(`Segmenting ${file.name}…`);
  await nextPaint();  // decoding, resizing and the model block the page for a large photo
  state.photo = await readPhoto(file);
  await segmentPhoto();
}

// ---------- webcam ----------

async function startWebcam() {
  if (!state.model) throw new Error('no model is loaded yet: load a .tflite first');
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('this browser gives the page no webcam (it needs localhost or https)');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
  } catch (error) {
    throw new Error(`no webcam: ${describe(error)}`);
  }
  const video = $('webcam-video');
  video.srcObject = stream;
  await video.play();
  state.webcam = {stream, frameTimes: []};
  $('webcam-button').textContent = 'Stop webcam';
  setStatus('Webcam: segmenting frame after frame.');
  requestAnimationFrame(webcamFrame);
}

function stopWebcam() {
  if (!state.webcam) return;
  state.webcam.stream.getTracks().forEach((track) => track.stop());
  state.webcam = null;
  $('webcam-video').srcObject = null;
  $('webcam-button').textContent = 'Start webcam';
  $('fps').textContent = '';
}

async function webcamFrame() {
  const webcam = state.webcam;
  if (!webcam) return;
  const video = $('webcam-video');
  try {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (width && height) {
      const canvas = $('photo-canvas');
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      const context = canvas.getContext('2d', {willReadFrequently: true});
      context.drawImage(video, 0, 0, width, height);
      const rgba = context.getImageData(0, 0, width, height).data;
      showResult(await segmentPixels(rgba, width, height));
      const times = webcam.frameTimes;
      times.push(performance.now());
      if (times.length > 20) times.shift();
      if (times.length > 1) {
        const fps = (times.length - 1) * 1000 / (times[times.length - 1] - times[0]);
        $('fps').textContent = `${fps.toFixed(1)} frames/s`;
      }
      if (state.frames % 15 === 1) renderLegend(state.last.labels);
    }
  } catch (error) {
    stopWebcam();
    showError(error);
    return;
  }
  requestAnimationFrame(webcamFrame);
}

// ---------- wiring ----------

// The URLs of the files in models/, from the server's listing of the folder (serve.py lists one
// as Python's http.server does): no request for a file that is not there, which the browser
// would print as a console error. An empty set when there is no models/ folder; null when the
// server lists no folders.
async function modelFolder() {
  try {
    const response = await fetch('models/');
    if (response.status === 404) return new Set();
    const type = response.headers.get('content-type') || '';
    if (!response.ok || !type.startsWith('text/html')) return null;
    const listing = new DOMParser().parseFromString(await response.text(), 'text/html');
    return new Set(Array.from(listing.querySelectorAll('a[href]'),
                              (a) => new URL(a.getAttribute('href'), response.url).href));
  } catch {
    return null;
  }
}

async function exists(url, folder) {
  if (folder) return folder.has(new URL(url, location.href).href);
  try {
    return (await fetch(url, {method: 'HEAD'})).ok;
  } catch {
    return false;
  }
}

// The menu: the shipped models whose files exist, and the one the URL asks for (even if it does
// not exist: loading it then says why). Selects the one to load first; none when there is none.
async function fillModelMenu() {
  const select = $('model-select');
  const requested = params.get('model');
  const folder = await modelFolder();
  const found = await Promise.all(SHIPPED.map((choice) => exists(choice.url, folder)));
  const choices = SHIPPED.filter((_, i) => found[i]);
  if (requested && !choices.some((c) => c.url === requested)) {
    choices.unshift({url: requested, label: requested});
  }
  for (const {url, label} of choices) select.append(new Option(label, url));
  select.value = requested || choices[0]?.url || '';
}

// The menu shows the model in use: its entry, or one for a model opened from a file (which the
// menu cannot load again); none before a model is loaded.
function showModelInMenu() {
  const select = $('model-select');
  select.querySelector('option[value=""]')?.remove();
  if (state.model && state.model.url === null) {
    const option = new Option(`${state.model.name} (opened file)`, '');
    option.disabled = true;
    select.prepend(option);
  }
  if (state.model) select.value = state.model.url ?? '';
  else select.selectedIndex = -1;
}

// Switch to the model chosen in the menu; if it fails, the model in use stays, and so does its
// entry in the menu.
async function switchModel(url) {
  try {
    await loadModelUrl(url);
  } catch (error) {
    showModelInMenu();
    if (!state.model) {
      $('model-info').textContent = `No model loaded: ${describe(error)}`;
      throw error;
    }
    throw new Error(`${describe(error)} (the page keeps ${state.model.name})`);
  }
}

function setUpControls() {
  const select = $('model-select');
  select.addEventListener('change', guarded(() => switchModel(select.value)));

  const backend = $('backend-select');
  const requestedBackend = params.get('backend');
  backend.value = ['wasm', 'webgpu'].includes(requestedBackend) ? requestedBackend : 'auto';
  backend.addEventListener('change', () => {  // LiteRT.js loads one Wasm build per page
    params.set('backend', backend.value);
    if (state.model?.url) params.set('model', state.model.url);
    location.search = params.toString();
  });

  $('model-file').addEventListener('change', guarded(async (event) => {
    await loadModelFiles([...event.target.files]);
    event.target.value = '';
  }));
  $('photo-file').addEventListener('change', guarded(async (event) => {
    const [file] = event.target.files;
    event.target.value = '';
    if (file) await openPhoto(file);
  }));
  $('webcam-button').addEventListener('click', guarded(
    () => (state.webcam ? stopWebcam() : startWebcam())));
  $('opacity').addEventListener('input', (event) => {
    $('overlay-canvas').style.opacity = event.target.value;
  });
  $('overlay-canvas').style.opacity = $('opacity').value;

  const zone = $('drop-zone');
  for (const name of ['dragenter', 'dragover']) {
    document.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add('dragging');
    });
  }
  document.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  document.addEventListener('drop', guarded(async (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const files = [...event.dataTransfer.files];
    if (files.some((f) => f.name.toLowerCase().endsWith('.tflite'))) {
      await loadModelFiles(files);
    } else if (files.length) {
      await openPhoto(files[0]);
    }
  }));
}

// For the browser test and the benchmark: the last label map and a timing loop on the last photo.
window.fastScnn = {
  get frames() { return state.frames; },
  lastResult() {
    const last = state.last;
    return last && {width: last.width, height: last.height, labels: Array.from(last.labels)};
  },
  async timeModel(count) {
    if (!state.photo) throw new Error('no photo to time');
    const {rgba, width, height} = state.photo;
    const times = [];
    for (let i = 0; i < count; i++) {
      times.push((await segmentPixels(rgba, width, height)).timing);
      showTiming(times[times.length - 1]);
    }
    return times;
  },
  runtime: () => state.runtime && {...state.runtime},
};

async function main() {
  setUpControls();
  document.body.dataset.state = 'loading';
  await fillModelMenu();
  state.runtime = await startRuntime($('backend-select').value);
  const url = $('model-select').value;
  if (!url) {
    throw new Error('no model in web/models/: `make web` exports the shipped CamVid model there '
                    + '(float32, and int8 when data/CamVid is there to calibrate it); or open a '
                    + '.tflite with "Open a .tflite".');
  }
  $('model-info').textContent = `Runtime ready (${state.runtime.label}); loading the model…`;
  await loadModelUrl(url);
}

// A start-up failure replaces "loading…" (the error box says the same, as for any failure).
main().catch((error) => {
  $('model-info').textContent = `No model loaded: ${describe(error)}`;
  showModelInMenu();
  showError(error);
});
