// Two checks on the bytes of a .tflite before LiteRT.js sees them.
//
// export.py's files carry a batch dimension of "any" (-1) in their tensors' shape signatures
// (the shapes themselves say 1). LiteRT.js 2.5 compares an input tensor with the signature and
// refuses [1, H, W, 3] against [-1, H, W, 3]; a tensor cannot be made with -1 either. One frame
// is all the page feeds, so `withBatchOfOne` writes 1 over those -1s in place: the same graph,
// with the batch fixed at 1, as the Python interpreter runs it.

// A TFLite flatbuffer names its schema with the identifier "TFL3" at bytes 4..7.
export function isTflite(bytes) {
  return bytes.length > 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'TFL3';
}

// Minimal flatbuffer reading (little-endian): tables through their vtables, vectors of tables
// and of int32. Field numbers from TensorFlow Lite's schema.fbs: Model.subgraphs = 2,
// SubGraph.tensors = 0, Tensor.shape = 0, Tensor.shape_signature = 7.
const MODEL_SUBGRAPHS = 2;
const SUBGRAPH_TENSORS = 0;
const TENSOR_SHAPE = 0;
const TENSOR_SHAPE_SIGNATURE = 7;

class FlatBuffer {
  constructor(bytes) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  checked(position, size) {
    if (position < 0 || position + size > this.view.byteLength) {
      throw new Error('the file is truncated or is not a TFLite flatbuffer');
    }
    return position;
  }

  u32(position) { return this.view.getUint32(this.checked(position, 4), true); }
  i32(position) { return this.view.getInt32(this.checked(position, 4), true); }
  u16(position) { return this.view.getUint16(this.checked(position, 2), true); }

  root() { return this.u32(0); }

  // Where field `id` of the table at `table` lies, or -1 if it is absent.
  field(table, id) {
    const vtable = table - this.i32(table);
    const offset = 4 + 2 * id < this.u16(vtable) ? this.u16(vtable + 4 + 2 * id) : 0;
    return offset ? table + offset : -1;
  }

  // [start of the elements, length] of the vector a field points at.
  vector(fieldPosition) {
    const start = fieldPosition + this.u32(fieldPosition);
    return [start + 4, this.u32(start)];
  }

  tables(table, id) {
    const position = this.field(table, id);
    if (position < 0) return [];
    const [start, length] = this.vector(position);
    return Array.from({length}, (_, i) => start + 4 * i + this.u32(start + 4 * i));
  }

  ints(table, id) {
    const position = this.field(table, id);
    if (position < 0) return null;
    const [start, length] = this.vector(position);
    return {start, values: Array.from({length}, (_, i) => this.i32(start + 4 * i))};
  }
}

/**
 * A copy of the model bytes with every tensor's leading -1 in `shape_signature` set to 1 where
 * its shape says 1; returns the copy and how many signatures changed.
 */
export function withBatchOfOne(bytes) {
  const copy = bytes.slice();
  const buffer = new FlatBuffer(copy);
  let changed = 0;
  for (const subgraph of buffer.tables(buffer.root(), MODEL_SUBGRAPHS)) {
    for (const tensor of buffer.tables(subgraph, SUBGRAPH_TENSORS)) {
      const shape = buffer.ints(tensor, TENSOR_SHAPE);
      const signature = buffer.ints(tensor, TENSOR_SHAPE_SIGNATURE);
      if (shape && signature && signature.values[0] === -1 && shape.values[0] === 1) {
        buffer.view.setInt32(signature.start, 1, true);
        changed += 1;
      }
    }
  }
  return {bytes: copy, changed};
}
