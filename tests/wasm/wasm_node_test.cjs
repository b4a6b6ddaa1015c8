// wasm (Node) against native on the same inputs, and errors as JS exceptions.
// usage: node wasm_node_test.cjs LIBRA_JS LIBRA_API_JS NATIVE_DIR LIBRARY_PROTO
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');

const [libraJs, apiJs, dir, protoPath] = process.argv.slice(2);
const { loadLibra, LibraError } = require(path.resolve(apiJs));

// max |got - want| / max |want|: relative to the tensor's scale, so that
// one-ulp differences (native FMA contraction, wasm none) on entries near
// zero do not count as large.
function maxRelative(got, want) {
  assert.strictEqual(got.length, want.length, 'length');
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

(async () => {
  const js = path.resolve(libraJs);
  const libra = await loadLibra({
    factory: require(js),
    wasmBinary: fs.readFileSync(js.replace(/\.js$/, '.wasm')),
  });
  const inputs = fs.readFileSync(path.join(dir, 'inputs.safetensors'));
  const expected = fs.readFileSync(path.join(dir, 'expected.safetensors'));
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  let checks = 0;

  // Merging: every case to 1e-6 relative.
  const experts = [0, 1, 2].map((e) => libra.readTensor(inputs, `e${e}`));
  for (const { method, params } of cases) {
    const got = libra.merge(method, params, experts, [64, 48]);
    const want = libra.readTensor(expected, `merged.${method}`);
    const rel = maxRelative(got, want);
    assert.ok(rel <= 1e-6, `${method}: max relative difference ${rel}`);
    console.log(`merge ${method}: max relative difference ${rel.toExponential(2)}`);
    checks++;
  }

  // Arrow routing and prototypes.
  const routing = libra.route(libra.readTensor(inputs, 'hidden'), libra.readTensor(inputs, 'prototypes'), 48,
                              { topK: 2, temperature: 0.5 });
  assert.deepStrictEqual(Array.from(routing.experts), Array.from(libra.readTensor(expected, 'route.experts')));
  assert.ok(maxRelative(routing.weights, libra.readTensor(expected, 'route.weights')) <= 1e-6, 'route weights');
  const proto = libra.prototype(libra.readTensor(inputs, 'lora_a'), [4, 48], libra.readTensor(inputs, 'lora_b'),
                                [40, 4], 2.0);
  assert.ok(maxRelative(proto, libra.readTensor(expected, 'prototype')) <= 1e-6, 'prototype');
  checks += 2;

  // Engine: routed logits equal native's.
  const model = libra.createModel(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'),
                                  fs.readFileSync(path.join(dir, 'model.safetensors')));
  model.addExpert('expert', fs.readFileSync(path.join(dir, 'expert.safetensors')));
  const logits = model.logits([72, 105, 33, 10]);
  const wantLogits = libra.readTensor(expected, 'logits');
  let worst = 0;
  for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - wantLogits[i]));
  assert.ok(worst <= 1e-4, `engine logits: max |diff| ${worst}`);
  const out = model.generate('Hi!', { maxNewTokens: 5, topK: 1 });
  assert.strictEqual(out.tokens.length, 5);
  assert.strictEqual(out.routing.length, out.steps * 2 * 7 * 1);
  assert.strictEqual(out.perLayer.length, out.steps);
  // logits takes generate's routing options (the page's teacher-forced
  // scores): the same next token as greedy generation in uniform mode, and a
  // bad mode is the core's error, not silently Arrow.
  const prompt = [72, 105, 33];
  const uniformLogits = model.logits(prompt, { mode: 'uniform' });
  const vocab = uniformLogits.length / prompt.length;
  const last = Array.from(uniformLogits.slice(-vocab));
  assert.strictEqual(last.indexOf(Math.max(...last)),
                     model.generate(prompt, { mode: 'uniform', maxNewTokens: 1 }).tokens[0]);
  assert.throws(() => model.logits(prompt, { mode: 'sideways' }),
                (e) => e.name === 'LibraError' && /routing mode must be/.test(e.message));
  checks++;

  // MBC: similarity and embedding to 1e-6 relative, the same clusters, and
  // the clusters are the two families the inputs were built from.
  const mbcNames = ['red', 'orange', 'yellow', 'blue', 'violet'];
  const mbcExperts = mbcNames.map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, 'mbc', `${name}.safetensors`)) }));
  const mbcOptions = JSON.parse(fs.readFileSync(path.join(dir, 'mbc_options.json'), 'utf8'));
  const mbc = libra.cluster(mbcExperts, mbcOptions);
  const simRel = maxRelative(mbc.similarity, libra.readTensor(expected, 'mbc.similarity'));
  assert.ok(simRel <= 1e-6, `MBC similarity: max relative difference ${simRel}`);
  assert.ok(maxRelative(mbc.embedding, libra.readTensor(expected, 'mbc.embedding')) <= 1e-6, 'MBC embedding');
  assert.strictEqual(mbc.dims, 3);
  assert.deepStrictEqual(mbc.assignment, Array.from(libra.readTensor(expected, 'mbc.assignment')));
  assert.deepStrictEqual(mbc.assignment, [0, 0, 0, 1, 1]);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(mbc.similarity[i * 5 + i] - 1) < 1e-5, 'unit diagonal');
  console.log(`MBC: similarity max relative difference ${simRel.toExponential(2)}, clusters ${mbc.assignment}`);
  checks++;

  // The library manifest: library.pb (written by native ExpertLibrary)
  // decoded with protobufjs and validated by the core equals the native
  // manifest; its expert routes with the record's scale (alpha 8 / r 4,
  // not the file's misleading metadata), giving native's logits.
  const protoText = fs.readFileSync(protoPath, 'utf8');
  const libDir = path.join(dir, 'library');
  const readFile = async (rel) => {
    const p = path.join(libDir, rel);
    return fs.existsSync(p) ? fs.readFileSync(p) : null;
  };
  const lib = await libra.openLibrary(readFile, { protoText });
  assert.deepStrictEqual(lib.manifest, JSON.parse(fs.readFileSync(path.join(dir, 'library_expected.json'), 'utf8')));
  assert.deepStrictEqual(lib.manifest.experts[0].tasks, ['greeting', 'exclaim']);
  assert.strictEqual(lib.loraExperts().length, 1);
  // The same library with its manifest as library.json (the JSON form).
  const fromJson = await libra.openLibrary(async (rel) => {
    if (rel === 'library.pb') return null;
    if (rel === 'library.json') return Buffer.from(fs.readFileSync(path.join(dir, 'library_expected.json')));
    return readFile(rel);
  });
  assert.deepStrictEqual(fromJson.manifest, lib.manifest);
  await assert.rejects(libra.openLibrary(async (rel) => (rel === 'library.pb' ? readFile(rel) : null), { protoText }),
                       (e) => e instanceof LibraError && e.code === 'NOT_FOUND' && e.message.includes('expert.safetensors'));
  const libModel = libra.createModel(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'),
                                     fs.readFileSync(path.join(dir, 'model.safetensors')));
  libModel.addLibraryExpert(lib.manifest, 'expert', lib.experts[0].bytes);
  const libLogits = libModel.logits([72, 105, 33, 10]);
  let libWorst = 0;
  for (let i = 0; i < libLogits.length; i++) libWorst = Math.max(libWorst, Math.abs(libLogits[i] - wantLogits[i]));
  assert.ok(libWorst <= 1e-4, `library expert logits: max |diff| ${libWorst}`);
  // The file's own metadata (alpha 1) would give other logits.
  const metaModel = libra.createModel(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'),
                                      fs.readFileSync(path.join(dir, 'model.safetensors')));
  metaModel.addExpert('expert', lib.experts[0].bytes);
  const metaLogits = metaModel.logits([72, 105, 33, 10]);
  let metaWorst = 0;
  for (let i = 0; i < metaLogits.length; i++) metaWorst = Math.max(metaWorst, Math.abs(metaLogits[i] - wantLogits[i]));
  assert.ok(metaWorst > 1e-3, 'the manifest scale must matter in this test');
  metaModel.dispose();
  // Merging library experts takes the same scales: a linear merge of one
  // expert with weight 1 in delta mode is scale * B A of each module.
  const merged = libra.mergeExperts('linear', { weight: [1] }, [{ name: 'expert', bytes: lib.experts[0].bytes }],
                                    'delta', lib.manifest);
  const qA = libra.readTensor(lib.experts[0].bytes, 'model.layers.0.self_attn.q_proj.lora_A.weight');
  const qB = libra.readTensor(lib.experts[0].bytes, 'model.layers.0.self_attn.q_proj.lora_B.weight');
  const mergedInfo = libra.inspect(merged.bytes, 'merged.safetensors');
  const deltaName = mergedInfo.tensors.map((t) => t.name).find((n) => n.includes('layers.0.self_attn.q_proj'));
  const delta = libra.readTensor(merged.bytes, deltaName, 'merged.safetensors');
  const [rows, rank] = [qB.length / 4, 4];
  const cols = qA.length / rank;
  const direct = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let k = 0; k < rank; k++) sum += qB[i * rank + k] * qA[k * cols + j];
      direct[i * cols + j] = 2 * sum;  // alpha 8 / rank 4
    }
  }
  assert.ok(maxRelative(delta, direct) <= 1e-5, `merged library delta: ${maxRelative(delta, direct)}`);
  libModel.dispose();
  checks += 3;

  // Bad inputs raise LibraError with the core's message.
  const expectError = (fn, code, substring) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof LibraError, `not a LibraError: ${e}`);
      assert.strictEqual(e.code, code, e.message);
      assert.ok(e.message.includes(substring), `"${e.message}" lacks "${substring}"`);
      checks++;
      return;
    }
    assert.fail(`no error (expected ${substring})`);
  };
  const truncated = inputs.subarray(0, inputs.length - 10);
  expectError(() => libra.inspect(truncated, 'cut.safetensors'), 'INVALID_ARGUMENT', 'cut.safetensors');
  expectError(() => libra.inspect(inputs.subarray(0, 5), 'tiny.safetensors'), 'INVALID_ARGUMENT', 'tiny.safetensors');
  expectError(() => libra.merge('linear', {}, [experts[0], experts[1].subarray(0, 100)], [64, 48]),
              'INVALID_ARGUMENT', 'expert 1');
  expectError(() => libra.merge('tiez', {}, experts, [64, 48]), 'NOT_FOUND', 'tiez');
  expectError(() => libra.merge('ties', {}, experts, [64, 48]), 'INVALID_ARGUMENT', 'density');
  expectError(() => libra.route(new Float32Array(48), new Float32Array(47), 48), 'INVALID_ARGUMENT', 'dim 48');
  expectError(() => model.addExpert('bad', libra.module ? truncated : truncated), 'INVALID_ARGUMENT', 'bad.safetensors');
  expectError(() => libra.createModel('{"vocab_size": 3}', fs.readFileSync(path.join(dir, 'model.safetensors'))),
              'INVALID_ARGUMENT', 'missing "hidden_size"');
  expectError(() => libra.cluster(mbcExperts, { k: 6 }), 'INVALID_ARGUMENT', 'k');
  expectError(() => libra.cluster(mbcExperts, { clusters: 2 }), 'INVALID_ARGUMENT', 'unknown');
  expectError(() => libra.cluster([mbcExperts[0], { name: 'cut', bytes: mbcExperts[1].bytes.subarray(0, 60) }], { k: 1 }),
              'INVALID_ARGUMENT', 'cut.safetensors');
  const wrongShape = fs.readFileSync(path.join(dir, 'expert.safetensors'));
  expectError(() => libra.cluster([mbcExperts[0], { name: 'other', bytes: wrongShape }], { k: 1 }),
              'INVALID_ARGUMENT', 'other.safetensors');
  const pbBytes = fs.readFileSync(path.join(libDir, 'library.pb'));
  expectError(() => libra.decodeManifest(pbBytes.subarray(0, Math.floor(pbBytes.length / 2)), { protoText }),
              'INVALID_ARGUMENT', 'library.pb');
  const badName = JSON.parse(JSON.stringify(lib.manifest));
  badName.experts[0].name = '../escape';
  expectError(() => libra.parseManifest(badName, 'bad.json'), 'DATA_LOSS', 'invalid expert name');
  // absl::StrSplit and CHexEscape are wasm/absl_compat stand-ins: the
  // core's file-name checks and escaped messages must behave as natively.
  const escaping = JSON.parse(JSON.stringify(lib.manifest));
  escaping.experts[0].file_name = 'aux/../../x.safetensors';
  expectError(() => libra.parseManifest(escaping, 'esc.json'), 'DATA_LOSS',
              'file name "aux/../../x.safetensors" leaves the library folder');
  escaping.experts[0].file_name = 'a//b.safetensors';
  expectError(() => libra.parseManifest(escaping, 'esc.json'), 'DATA_LOSS', 'leaves the library folder');
  escaping.experts[0].file_name = 'tab\there.safetensors';
  expectError(() => libra.parseManifest(escaping, 'esc.json'), 'DATA_LOSS', 'file name "tab\\there.safetensors"');
  escaping.experts[0].file_name = 'sub/dir/ok.safetensors';
  assert.strictEqual(libra.parseManifest(escaping, 'esc.json').experts[0].file_name, 'sub/dir/ok.safetensors');
  const dup = JSON.parse(JSON.stringify(lib.manifest));
  dup.experts.push(dup.experts[0]);
  expectError(() => libra.parseManifest(dup, 'dup.json'), 'DATA_LOSS', 'listed twice');
  expectError(() => libra.createModel(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'),
                                      fs.readFileSync(path.join(dir, 'model.safetensors')))
                  .addLibraryExpert(lib.manifest, 'absent', lib.experts[0].bytes), 'NOT_FOUND', 'absent');
  model.dispose();
  console.log(`PASS: ${checks} checks`);
})().catch((e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
