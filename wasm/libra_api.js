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
//   // An expert library folder (library.pb written by `libra library`):
//   const lib = await libra.openLibrary((rel) => fetchBytes(`library/${rel}`), { protoText });
//   for (const e of lib.loraExperts()) model.addLibraryExpert(lib.manifest, e.name, e.bytes);
//   const mbc = libra.cluster(lib.experts, { k: 3 });   // similarity + clusters
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

  // Byte-level vocabulary (src/core/text/byte_tokenizer.h): ids 0..255 are
  // UTF-8 bytes, then <pad> <bos> <eos> <sep>.
  const BYTE_TOKENS = { pad: 256, bos: 257, eos: 258, sep: 259 };
  function encodeText(text) { return Array.from(new TextEncoder().encode(text)); }
  // How libra's training frames a prompt (nn::EncodePrompt): <bos> text <sep>.
  function encodePrompt(text) { return [BYTE_TOKENS.bos, ...encodeText(text), BYTE_TOKENS.sep]; }
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
    // An expert of a library (openLibrary): library tensor names, scale from
    // the manifest record.
    addLibraryExpert(manifest, name, bytes) {
      return unwrap(this._engine.addLibraryExpert(JSON.stringify(manifest), name, asBytes(bytes)));
    }
    clearExperts() { this._engine.clearExperts(); }
    info() { return this._engine.info(); }
    // prompt: text (byte-level) or token ids. options: maxNewTokens, eos,
    // mode ('arrow' | 'uniform'), topK, temperature, parameterMixing, and
    // frame: true to wrap text as training does (<bos> text <sep>, stopping
    // at <eos> unless eos is given).
    generate(prompt, options = {}) {
      let tokens;
      if (typeof prompt !== 'string') tokens = Array.from(prompt);
      else tokens = options.frame ? encodePrompt(prompt) : encodeText(prompt);
      const engineOptions = Object.assign({}, options);
      if (options.frame && options.eos === undefined) engineOptions.eos = BYTE_TOKENS.eos;
      delete engineOptions.frame;
      const out = unwrap(this._engine.generate(tokens, engineOptions));
      out.promptTokens = tokens;
      out.text = decodeTokens(out.tokens);
      // routing[step][layer][projection][expert] -> per-token x per-layer
      // mean weight of each expert over the adapted projections.
      out.perLayer = Model.summarize(out);
      return out;
    }
    // Logits of every position [tokens * vocab], one token fed at a time;
    // options as generate's (mode, topK, temperature, parameterMixing).
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

  // Protobuf decoding of library.pb with protobufjs (npm), on
  // src/proto/library.proto; the core then validates the result
  // (manifest_json.h), so the page trusts the same checks as `libra`.
  function protobufjsOf(options) {
    if (options.protobuf) return options.protobuf;
    if (typeof protobuf !== 'undefined') return protobuf;  // eslint-disable-line no-undef
    if (typeof require !== 'undefined') return require('protobufjs');
    throw new Error('protobufjs is not loaded: serve node_modules/protobufjs/dist/protobuf.min.js');
  }

  // An opened expert library: manifest (the core's JSON form) and every
  // expert's bytes, in manifest order.
  class Library {
    constructor(manifest, experts) {
      this.manifest = manifest;
      this.experts = experts;  // [{name, record, bytes}]
    }
    get name() { return this.manifest.name; }
    loraExperts() { return this.experts.filter((e) => e.record.adapter_type === 'lora'); }
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
    // {bytes (merged safetensors), modules, warnings}. With `manifest`, the
    // experts it lists take their LoRA scales from their records.
    mergeExperts(method, params, experts, mode = 'delta', manifest = null) {
      return unwrap(this.module.mergeExperts(method, JSON.stringify(params || {}),
                                             experts.map((e) => e.name), experts.map((e) => asBytes(e.bytes)), mode,
                                             manifest ? JSON.stringify(manifest) : ''));
    }
    // MBC (src/core/cluster) over LoRA experts [{name, bytes}]. options: k,
    // sparsityQuantile, embeddingDims, restarts, maxIterations, seed. Returns
    // {names, assignment, similarity (N*N), embedding (N*dims), dims, inertia}.
    cluster(experts, options = {}) {
      const out = unwrap(this.module.clusterExperts(experts.map((e) => e.name), experts.map((e) => asBytes(e.bytes)),
                                                    JSON.stringify(options)));
      out.names = experts.map((e) => e.name);
      return out;
    }
    // A library manifest in JSON form (object or text), validated by the core;
    // returns the core's JSON form (every field present).
    parseManifest(json, label = 'library manifest') {
      const text = typeof json === 'string' ? json : JSON.stringify(json);
      return JSON.parse(unwrap(this.module.parseManifest(text, label)));
    }
    // library.pb bytes -> validated manifest. options: protoText (the text of
    // src/proto/library.proto), protobuf (the protobufjs module; found on
    // its own in Node and when protobuf.min.js is loaded in a page).
    decodeManifest(bytes, { protoText, protobuf, label = 'library.pb' } = {}) {
      if (!protoText) throw new Error('decodeManifest: give protoText (src/proto/library.proto)');
      const pb = protobufjsOf({ protobuf });
      const type = pb.parse(protoText, { keepCase: true }).root.lookupType('libra.proto.Library');
      let message;
      try {
        message = type.decode(asBytes(bytes));
      } catch (e) {
        throw new LibraError(`INVALID_ARGUMENT: ${label}: not a library manifest (${e.message})`);
      }
      const object = type.toObject(message, { longs: String, enums: String, defaults: true, json: true });
      return this.parseManifest(object, label);
    }
    // Opens an expert library folder through readFile(relativePath) ->
    // Promise<bytes, or null when the file is absent>: library.pb (or a
    // library.json in the manifest's JSON form), then every expert's file,
    // and with options.auxiliary (kinds, e.g. ['arrow']) those auxiliary
    // files that are present, as expert.auxiliary[kind].
    async openLibrary(readFile, options = {}) {
      let manifest;
      const pb = await readFile('library.pb');
      if (pb) {
        manifest = this.decodeManifest(pb, Object.assign({ label: 'library.pb' }, options));
      } else {
        const json = await readFile('library.json');
        if (!json) throw new LibraError('NOT_FOUND: not a library: no library.pb (nor library.json)');
        manifest = this.parseManifest(new TextDecoder().decode(asBytes(json)), 'library.json');
      }
      const experts = [];
      for (const record of manifest.experts) {
        const bytes = await readFile(record.file_name);
        if (!bytes) throw new LibraError(`NOT_FOUND: expert "${record.name}": missing file ${record.file_name}`);
        const auxiliary = {};
        for (const kind of options.auxiliary || []) {
          const file = record.auxiliary_files[kind];
          const aux = file ? await readFile(file.file_name) : null;
          if (aux) auxiliary[kind] = asBytes(aux);
        }
        experts.push({ name: record.name, record, bytes: asBytes(bytes), auxiliary });
      }
      return new Library(manifest, experts);
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

  const api = { loadLibra, Libra, Library, Model, LibraError, encodeText, encodePrompt, decodeTokens, BYTE_TOKENS };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.Libra = api;
})(typeof self !== 'undefined' ? self : this);
