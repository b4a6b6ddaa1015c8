// wasm (Node) against native on the same inputs, and errors as JS exceptions.
// usage: node wasm_node_test.cjs LIBRA_JS LIBRA_API_JS NATIVE_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');

const [libraJs, apiJs, dir] = process.argv.slice(2);
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
  checks++;

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
  model.dispose();
  console.log(`PASS: ${checks} checks`);
})().catch((e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
