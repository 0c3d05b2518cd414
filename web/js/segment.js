// Image arithmetic of the page, kept free of the DOM so that the test can call it directly.
//
// The page must give the label map predict.py gives for the same .tflite and image, so the two
// resizes are OpenCV's, reproduced to the bit (fast_scnn_tf/predictor.py, `_tflite_predictor`):
// the photo goes to the model's input size with cv2.INTER_LINEAR, the labels come back to the
// photo's size with cv2.INTER_NEAREST. A canvas drawImage() resize would not do: browsers filter
// (and may mipmap) when they shrink, and the filter is theirs to choose.

// OpenCV's INTER_RESIZE_COEF_BITS: interpolation weights are integers out of 2048.
const COEF_SCALE = 2048;

// cvRound: nearest integer, ties to even (lrint under the default rounding mode).
function roundHalfEven(x) {
  const r = Math.round(x);
  return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

// Source index and the two weights for each destination index along one axis, in float32 as
// OpenCV computes them: f = (d + 0.5) * scale - 0.5, split into floor and fraction.
function linearTaps(dstSize, srcSize) {
  const scale = 1 / (dstSize / srcSize);
  const index = new Int32Array(dstSize);
  const w0 = new Int32Array(dstSize);
  const w1 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) { s = 0; f = 0; }
    if (s >= srcSize - 1) { s = srcSize - 1; f = 0; }
    index[d] = s;
    w0[d] = roundHalfEven(Math.fround(Math.fround(1 - f) * COEF_SCALE));
    w1[d] = roundHalfEven(Math.fround(f * COEF_SCALE));
  }
  return {index, w0, w1};
}

// (a * b) >> 16 on 16-bit lanes, as SIMD "multiply high" does.
function mulHi(a, b) {
  return Math.floor((a * b) / 65536);
}

/**
 * Resize an RGBA image (Uint8ClampedArray, as ImageData holds it) to an RGB Uint8Array of
 * dstHeight x dstWidth, bit-exact with cv2.resize(rgb, (dstWidth, dstHeight), INTER_LINEAR)
 * for uint8 images: a horizontal pass with integer weights, then a vertical pass in OpenCV's
 * SIMD fixed point, ((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16), rounded >> 2.
 */
export function resizeBilinearRgb(rgba, srcWidth, srcHeight, dstWidth, dstHeight) {
  const xs = linearTaps(dstWidth, srcWidth);
  const ys = linearTaps(dstHeight, srcHeight);
  const rowLength = dstWidth * 3;
  const rows = new Map();  // source row -> horizontally resized row (Int32Array)
  const horizontal = (y) => {
    let row = rows.get(y);
    if (row) return row;
    row = new Int32Array(rowLength);
    const base = y * srcWidth * 4;
    for (let x = 0; x < dstWidth; x++) {
      const s0 = base + xs.index[x] * 4;
      const s1 = base + Math.min(xs.index[x] + 1, srcWidth - 1) * 4;
      const a0 = xs.w0[x];
      const a1 = xs.w1[x];
      for (let c = 0; c < 3; c++) row[x * 3 + c] = rgba[s0 + c] * a0 + rgba[s1 + c] * a1;
    }
    rows.set(y, row);
    return row;
  };
  const out = new Uint8Array(dstHeight * rowLength);
  for (let y = 0; y < dstHeight; y++) {
    // Unlike the columns, OpenCV clamps the two source rows, not the weights, at the borders.
    const sy = Math.floor(Math.fround((y + 0.5) * (1 / (dstHeight / srcHeight)) - 0.5));
    const r0 = horizontal(Math.min(Math.max(sy, 0), srcHeight - 1));
    const r1 = horizontal(Math.min(Math.max(sy + 1, 0), srcHeight - 1));
    const {b0, b1} = rowWeights(y, dstHeight, srcHeight);
    const o = y * rowLength;
    for (let i = 0; i < rowLength; i++) {
      const v = (mulHi(r0[i] >> 4, b0) + mulHi(r1[i] >> 4, b1) + 2) >> 2;
      out[o + i] = v < 0 ? 0 : (v > 255 ? 255 : v);
    }
    if (rows.size > 4) {  // keep only the rows the next output rows can still use
      for (const key of rows.keys()) if (key < sy) rows.delete(key);
    }
  }
  return out;
}

// The vertical weights, without the column taps' border reset (OpenCV clamps rows instead).
function rowWeights(y, dstHeight, srcHeight) {
  let f = Math.fround((y + 0.5) * (1 / (dstHeight / srcHeight)) - 0.5);
  f = Math.fround(f - Math.floor(f));
  return {
    b0: roundHalfEven(Math.fround(Math.fround(1 - f) * COEF_SCALE)),
    b1: roundHalfEven(Math.fround(f * COEF_SCALE)),
  };
}

/** RGBA (ImageData) to packed RGB, for a photo already at the model's input size. */
export function rgbaToRgb(rgba, width, height) {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    out[i * 3] = rgba[j];
    out[i * 3 + 1] = rgba[j + 1];
    out[i * 3 + 2] = rgba[j + 2];
  }
  return out;
}

/**
 * A label map (Uint8Array, srcWidth x srcHeight) resized to dstWidth x dstHeight as
 * cv2.resize(labels, (dstWidth, dstHeight), INTER_NEAREST): source index floor(d * src / dst).
 */
export function resizeNearest(labels, srcWidth, srcHeight, dstWidth, dstHeight) {
  if (srcWidth === dstWidth && srcHeight === dstHeight) return labels;
  const fx = 1 / (dstWidth / srcWidth);
  const fy = 1 / (dstHeight / srcHeight);
  const xIndex = new Int32Array(dstWidth);
  for (let x = 0; x < dstWidth; x++) xIndex[x] = Math.min(Math.floor(x * fx), srcWidth - 1);
  const out = new Uint8Array(dstWidth * dstHeight);
  for (let y = 0; y < dstHeight; y++) {
    const row = Math.min(Math.floor(y * fy), srcHeight - 1) * srcWidth;
    const o = y * dstWidth;
    for (let x = 0; x < dstWidth; x++) out[o + x] = labels[row + xIndex[x]];
  }
  return out;
}

/** RGBA pixels of a label map in the palette's colours (labels outside it are black). */
export function colourise(labels, palette, target) {
  const out = target || new Uint8ClampedArray(labels.length * 4);
  for (let i = 0, j = 0; i < labels.length; i++, j += 4) {
    const colour = palette[labels[i]];
    out[j] = colour ? colour[0] : 0;
    out[j + 1] = colour ? colour[1] : 0;
    out[j + 2] = colour ? colour[2] : 0;
    out[j + 3] = 255;
  }
  return out;
}

/** How many pixels carry each label (an array of `numClasses` counts). */
export function classCounts(labels, numClasses) {
  const counts = new Array(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) if (labels[i] < numClasses) counts[labels[i]]++;
  return counts;
}
