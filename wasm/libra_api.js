// libra in JavaScript: merging, Arrow routing and routed generation on the
// WebAssembly build of src/core. Works in Node (CommonJS) and in the browser
// (load libra.js first; this file then defines window.Libra).
//
//   const { loadLibra } = require('./libra_api.js');
//   const libra = await loadLibra();                 // or Libra.loadLibra() in a page
//   const merged = libra.merge('ties', { density: 0.3 }, [a, b, c], [64, 48]);
//   const model = libra.createModel(configJsonText, modelBytes);
//   model.addExpert('math', expertBytes);
//   const out = model.generate('Q: 2+2?', { maxNewTokens: 16, topK: 2 });
//   // out.text, out.routing (per token x layer x projection x expert)
//
// Errors are thrown as LibraError with the core's message and its code
// ("INVALID_ARGUMENT", "NOT_FOUND", ...).
(function (root) {
  'use strict';

  class LibraError extends Error {
    constructor(text) {
      const match = /^([A-Z_]+): ([\s\S]*)$/.exec(text);
      super(match ? match[2] : text);
      this.name = 'LibraError';
      this.code = match ? match[1] : 'UNKNOWN';
    }
  }

  function unwrap(result) {
    if (result.error !== undefined) throw new LibraError(result.error);
    return result.value;
  }

  function asBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError('expected bytes (Uint8Array or ArrayBuffer)');
  }

  // Byte-level vocabulary: ids 0..255 are UTF-8 bytes.
  function encodeText(text) { return Array.from(new TextEncoder().encode(text)); }
  function decodeTokens(tokens) {
    return new TextDecoder().decode(new Uint8Array(tokens.filter((t) => t >= 0 && t < 256)));
  }

  class Model {
    constructor(module, configJson, weights) {
      this._engine = new module.Engine();
      unwrap(this._engine.load(typeof configJson === 'string' ? configJson : JSON.stringify(configJson),
                               asBytes(weights)));
    }
    addExpert(name, bytes) { return unwrap(this._engine.addExpert(name, asBytes(bytes))); }
    clearExperts() { this._engine.clearExperts(); }
    info() { return this._engine.info(); }
    // prompt: text (byte-level) or token ids. options: maxNewTokens, eos,
    // mode ('arrow' | 'uniform'), topK, temperature, parameterMixing.
    generate(prompt, options = {}) {
      const tokens = typeof prompt === 'string' ? encodeText(prompt) : Array.from(prompt);
      const out = unwrap(this._engine.generate(tokens, options));
      out.promptTokens = tokens;
      out.text = decodeTokens(out.tokens);
      // routing[step][layer][projection][expert] -> per-token x per-layer
      // mean weight of each expert over the adapted projections.
      out.perLayer = Model.summarize(out);
      return out;
    }
    logits(tokens, options = {}) { return unwrap(this._engine.logits(Array.from(tokens), options)); }
    dispose() { this._engine.delete(); }

    static summarize(out) {
      const { steps, layers, projections: P, experts: E, routing } = out;
      const result = [];
      for (let t = 0; t < steps; t++) {
        const row = [];
        for (let l = 0; l < layers; l++) {
          const weights = new Float32Array(E);
          let adapted = 0;
          for (let p = 0; p < P; p++) {
            const base = ((t * layers + l) * P + p) * E;
            let sum = 0;
            for (let e = 0; e < E; e++) sum += routing[base + e];
            if (sum === 0) continue;
            adapted++;
            for (let e = 0; e < E; e++) weights[e] += routing[base + e];
          }
          if (adapted > 0) for (let e = 0; e < E; e++) weights[e] /= adapted;
          row.push(weights);
        }
        result.push(row);
      }
      return result;
    }
  }

  class Libra {
    constructor(module) { this.module = module; }
    methods() { return this.module.listMethods(); }
    inspect(bytes, label = 'tensors.safetensors') {
      return unwrap(this.module.inspectSafetensors(asBytes(bytes), label));
    }
    readTensor(bytes, name, label = 'tensors.safetensors') {
      return unwrap(this.module.readTensor(asBytes(bytes), label, name));
    }
    // Tensor-level merge of same-shape Float32Arrays (task vectors).
    merge(method, params, tensors, shape) {
      return unwrap(this.module.mergeTensors(method, JSON.stringify(params || {}), tensors, shape));
    }
    // Streaming merge of expert files: experts [{name, bytes}]; returns
    // {bytes (merged safetensors), modules, warnings}.
    mergeExperts(method, params, experts, mode = 'delta') {
      return unwrap(this.module.mergeExperts(method, JSON.stringify(params || {}),
                                             experts.map((e) => e.name), experts.map((e) => asBytes(e.bytes)), mode));
    }
    prototype(a, aShape, b, bShape, scale = 1) {
      return unwrap(this.module.arrowPrototype(a, aShape, b, bShape, scale));
    }
    route(hidden, prototypes, dim, { topK = 4, temperature = 1 } = {}) {
      return unwrap(this.module.route(hidden, prototypes, dim, topK, temperature));
    }
    createModel(configJson, weights) { return new Model(this.module, configJson, weights); }
  }

  async function loadLibra(options = {}) {
    let factory = options.factory;
    if (!factory && typeof createLibra !== 'undefined') factory = createLibra;  // eslint-disable-line no-undef
    if (!factory && typeof require !== 'undefined') factory = require(options.jsPath || './libra.js');
    const moduleArgs = Object.assign({}, options.moduleArgs);
    if (options.wasmBinary) moduleArgs.wasmBinary = options.wasmBinary;
    return new Libra(await factory(moduleArgs));
  }

  const api = { loadLibra, Libra, Model, LibraError, encodeText, decodeTokens };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.Libra = api;
})(typeof self !== 'undefined' ? self : this);
