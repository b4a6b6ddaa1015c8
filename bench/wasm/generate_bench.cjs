// wasm side of the routed-generation benchmark: the same bundle, prompt and
// options as generate_bench.cc, through libra_api.js (openLibrary reads
// library.pb with protobufjs), timed around model.generate.
// usage: node generate_bench.cjs LIBRA_JS LIBRA_API_JS LIBRARY_PROTO BUNDLE_DIR NEW_TOKENS REPEATS TOP_K
'use strict';
const fs = require('fs');
const path = require('path');
const [libraJs, apiJs, protoPath, bundle, newTokens, repeats, topK] = process.argv.slice(2);
const { loadLibra } = require(path.resolve(apiJs));
(async () => {
  const js = path.resolve(libraJs);
  const libra = await loadLibra({ factory: require(js), wasmBinary: fs.readFileSync(js.replace(/\.js$/, '.wasm')) });
  const model = libra.createModel(fs.readFileSync(path.join(bundle, 'base', 'config.json'), 'utf8'),
                                  fs.readFileSync(path.join(bundle, 'base', 'model.safetensors')));
  const library = await libra.openLibrary(async (rel) => {
    const p = path.join(bundle, 'library', rel);
    return fs.existsSync(p) ? fs.readFileSync(p) : null;
  }, { protoText: fs.readFileSync(protoPath, 'utf8') });
  for (const e of library.loraExperts()) model.addLibraryExpert(library.manifest, e.name, e.bytes);
  let best = Infinity;
  let steps = 0;
  for (let r = 0; r < +repeats; r++) {
    const t0 = process.hrtime.bigint();
    const out = model.generate('Q: what is 2+2? A:', { maxNewTokens: +newTokens, topK: +topK, frame: true, eos: -1 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    steps = out.steps;
    best = Math.min(best, seconds);
  }
  console.log(`wasm ${steps} ${best.toFixed(6)} ${(steps / best).toFixed(1)}`);
})().catch((e) => { console.error(e); process.exit(1); });
