// wasm side: the same merges on the same inputs, timed inside wasm.
// usage: node merge_bench.cjs LIBRA_JS LIBRA_API_JS INPUTS_DIR REPEATS
'use strict';
const fs = require('fs');
const path = require('path');
const [libraJs, apiJs, dir, repeats] = process.argv.slice(2);
const { loadLibra } = require(path.resolve(apiJs));
(async () => {
  const js = path.resolve(libraJs);
  const libra = await loadLibra({ factory: require(js), wasmBinary: fs.readFileSync(js.replace(/\.js$/, '.wasm')) });
  const bytes = fs.readFileSync(path.join(dir, 'inputs.safetensors'));
  const info = libra.inspect(bytes);
  const experts = info.tensors.map((t) => libra.readTensor(bytes, t.name));
  const shape = info.tensors[0].shape;
  const total = (experts.length + 1) * experts[0].length * 4;
  for (const [method, params] of [['linear', {}], ['ties', { density: 0.2 }]]) {
    const r = libra.module.timeMerge(method, JSON.stringify(params), experts, shape, +repeats);
    if (r.error) throw new Error(r.error);
    console.log(`wasm ${method} ${r.value.toFixed(6)} ${(total / r.value / 1e9).toFixed(2)}`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
