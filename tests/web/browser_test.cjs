// Headless Debian chromium (playwright-core, never a downloaded browser)
// drives the demo page: the random stand-in (banner, library table, the
// example picker, the side-by-side answers and routing shares checked
// against the test's own computation, MBC clusters, merge, routed generation
// with heatmap, errors), loading a library by choosing its files, and a
// bundle served with --demo whose bundle.json is malformed (a one-line
// message, no banner) and which carries a results.json (claims table, reuse
// plot). No page errors, no failed requests. Saves screenshots.
// usage: node browser_test.cjs URL_RANDOM URL_BUNDLE BUNDLE_DIR STAND_IN_BUNDLE_JSON SCREENSHOT_DIR
//   (NODE_PATH: web/node_modules)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const [urlRandom, urlBundle, bundleDir, standInBundleJson, shotDir] = process.argv.slice(2);
const standIn = JSON.parse(fs.readFileSync(standInBundleJson, 'utf8'));

async function open(context, url, errors) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  // A 404 (favicon, an optional file) shows in the console as an error.
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('status').textContent),
                             null, { timeout: 90000 });
  assert.strictEqual(await page.textContent('#status'), 'ready', await page.textContent('#error'));
  return page;
}

async function clusterTexts(page) {
  return page.locator('#clusters .cluster').allTextContents();
}

const sameWords = (a, b) => a.trim().split(/\s+/).join(' ') === b.trim().split(/\s+/).join(' ');
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
function assertClose(got, want, what) {
  assert.ok(Math.abs(got - want) <= 1e-9, `${what}: page ${got}, test ${want}`);
}

// What the side-by-side table and the routing shares should show, computed
// here on a second wasm instance with its own models, read from the served
// files: per condition the greedy answer and the teacher-forced correct
// tokens; Arrow's routing of the example's tokens.
async function independentReference(page, example, topK, ownName) {
  return page.evaluate(async ({ example, topK, ownName }) => {
    const libra = await Libra.loadLibra();
    const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    const configText = await (await fetch('demo/base/config.json')).text();
    const weights = await get('demo/base/model.safetensors');
    const protoText = await (await fetch('library.proto')).text();
    const lib = await libra.openLibrary((rel) => get(`demo/library/${rel}`), { protoText });
    const withExperts = (experts) => {
      const model = libra.createModel(configText, weights);
      for (const e of experts) model.addLibraryExpert(lib.manifest, e.name, e.bytes);
      return model;
    };
    const full = withExperts(lib.loraExperts());
    const conditions = { base: [withExperts([]), {}], uniform: [full, { mode: 'uniform' }],
                         arrow: [full, { mode: 'arrow', topK }] };
    if (ownName) conditions.own = [withExperts(lib.loraExperts().filter((e) => e.name === ownName)), { mode: 'uniform' }];
    const { ids, target_start: start } = example;
    const scores = {};
    for (const [id, [model, options]] of Object.entries(conditions)) {
      const logits = model.logits(ids, options);
      const vocab = logits.length / ids.length;
      let correct = 0;
      for (let k = start - 1; k < ids.length - 1; k++) {
        const row = Array.from(logits.subarray(k * vocab, (k + 1) * vocab));
        if (row.indexOf(Math.max(...row)) === ids[k + 1]) correct++;
      }
      const out = model.generate(ids.slice(0, start),
                                 Object.assign({ maxNewTokens: ids.length - start + 8, eos: Libra.BYTE_TOKENS.eos }, options));
      scores[id] = { correct, tokens: ids.length - start, answer: Libra.decodeTokens(out.tokens) };
    }
    const routed = full.generate(ids, { mode: 'arrow', topK, maxNewTokens: 1 });
    return { scores, routing: Array.from(routed.routing), steps: routed.steps, layers: routed.layers,
             projections: routed.projections, experts: routed.experts, names: lib.loraExperts().map((e) => e.name) };
  }, { example, topK, ownName });
}

// papers/arrow_mbc's diagnostic, per layer: per projection with experts, the
// share of tokens whose top expert is related and the mean entropy; the
// layer's value is the mean over those projections.
function layerShares(ref, related) {
  const { routing, steps, layers, projections, experts } = ref;
  const out = [];
  for (let l = 0; l < layers; l++) {
    const modules = [];
    for (let p = 0; p < projections; p++) {
      const tops = [], entropies = [];
      for (let t = 0; t < steps; t++) {
        const at = ((t * layers + l) * projections + p) * experts;
        const w = routing.slice(at, at + experts);
        if (w.every((x) => x === 0)) continue;
        tops.push(w.indexOf(Math.max(...w)));
        entropies.push(w.reduce((h, x) => (x > 0 ? h - x * Math.log(x) : h), 0));
      }
      if (tops.length) modules.push({ share: tops.filter((e) => related.has(e)).length / tops.length, entropy: mean(entropies) });
    }
    out.push({ share: mean(modules.map((m) => m.share)), entropy: mean(modules.map((m) => m.entropy)) });
  }
  return out;
}

// The page's comparison and routing for stand-in example `index`, against
// the independent reference.
async function checkExample(page, index) {
  const example = standIn.examples[index];
  const task = standIn.tasks.find((t) => t.name === example.task);
  assert.strictEqual(await page.inputValue('#example'), String(index));
  assert.ok((await page.textContent('#example-info')).includes(example.target));
  const topK = +(await page.inputValue('#example-topk'));
  const ref = await independentReference(page, example, topK, task.held_out ? null : task.name);

  const rows = await page.locator('#compare-table tr[data-condition]').evaluateAll((trs) => trs.map((tr) => ({
    id: tr.dataset.condition, right: tr.dataset.right, correct: +tr.dataset.correctTokens, tokens: +tr.dataset.tokens,
    answer: tr.dataset.answer, mark: tr.children[2].textContent })));
  assert.deepStrictEqual(rows.map((r) => r.id), task.held_out ? ['base', 'uniform', 'arrow'] : ['base', 'uniform', 'arrow', 'own']);
  for (const r of rows) {
    const want = ref.scores[r.id];
    assert.strictEqual(r.answer, want.answer, `${r.id} answer`);
    assert.deepStrictEqual([r.correct, r.tokens], [want.correct, want.tokens], `${r.id} token accuracy`);
    const right = sameWords(r.answer, example.target);
    assert.deepStrictEqual([r.right, r.mark], [String(right), right ? 'right' : 'wrong'], `${r.id} right/wrong`);
  }

  const wanted = new Set(task.related.concat([task.name]));
  const related = new Set(ref.names.map((n, i) => (wanted.has(n) ? i : -1)).filter((i) => i >= 0));
  const want = layerShares(ref, related);
  const shown = await page.locator('#routing-share tr[data-layer]').evaluateAll((trs) => trs.map((tr) => ({ ...tr.dataset })));
  assert.strictEqual(shown.length, ref.layers + 1);
  want.forEach((w, l) => {
    assertClose(+shown[l].share, w.share, `layer ${l} related share`);
    assertClose(+shown[l].entropy, w.entropy, `layer ${l} entropy`);
  });
  assertClose(+shown[ref.layers].share, mean(want.map((w) => w.share)), 'mean related share');
  assertClose(+shown[ref.layers].chance, related.size / ref.names.length, 'chance');

  // The routing table: a row per token of the example (<bos> first), related
  // experts' cells outlined.
  assert.strictEqual(await page.locator('#example-heatmap tr').count(), 1 + example.ids.length);
  assert.strictEqual(await page.textContent('#example-heatmap tr:nth-child(2) td:first-child'), '<bos>');
  // Cells take their expert's family colour, as the legend shows it.
  const cells = await page.locator('#example-heatmap td.cell').evaluateAll((tds) => tds.map((td) => ({
    expert: +td.textContent, related: td.classList.contains('related'), color: td.style.backgroundColor })));
  const legend = await page.locator('#example-legend span').evaluateAll((spans) => spans.map((x) => x.style.backgroundColor));
  assert.strictEqual(cells.length, example.ids.length * ref.layers);
  for (const c of cells) {
    assert.strictEqual(c.related, related.has(c.expert), `cell of expert ${c.expert}`);
    assert.strictEqual(c.color, legend[c.expert], `colour of expert ${c.expert}`);
  }
  assert.strictEqual(await page.textContent('#error'), '');
  return { rows, shares: want, related };
}

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libra-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  fs.mkdirSync(shotDir, { recursive: true });

  // 1. The random stand-in: banner, the manifest's experts.
  const page = await open(context, urlRandom, errors);
  assert.ok(await page.isVisible('#banner'), 'random-weights banner');
  assert.ok((await page.textContent('#banner')).includes('results/arrow_mbc/demo'));
  assert.ok((await page.textContent('#library')).includes('6 experts'), await page.textContent('#library'));
  assert.strictEqual(await page.locator('#experts tr').count(), 7);
  assert.ok((await page.textContent('#experts')).includes('arrow'), 'Arrow prototypes listed as auxiliary files');
  // 6 experts x 4 layers x 4 adapted projections, stored by native `libra
  // arrow` code, recomputed in wasm.
  assert.ok((await page.textContent('#prototypes')).includes('6 experts, 96 modules'),
            await page.textContent('#prototypes'));
  assert.ok(+(await page.getAttribute('#prototypes', 'data-worst')) > 0.9999);

  // Examples of bundle.json in a picker, held-out tasks first; the first is
  // compared when the page loads. Its chance level: algebra names two of the
  // six experts as related.
  assert.strictEqual(await page.locator('#example option').count(), standIn.examples.length);
  assert.strictEqual(await page.getAttribute('#example optgroup:first-child', 'label'), 'held-out tasks');
  const firstHeldOut = standIn.examples.findIndex((e) => standIn.tasks.find((t) => t.name === e.task).held_out);
  const heldOut = await checkExample(page, firstHeldOut);
  assert.strictEqual(heldOut.related.size, 2);
  // The legend colours experts by family: the stand-in's pairs share one.
  const legend = await page.locator('#example-legend span').evaluateAll((spans) => spans.map((x) => [x.textContent, x.style.backgroundColor]));
  assert.strictEqual(legend.length, 6);
  assert.ok(legend[0][0].includes('arithmetic (reasoning)'), legend[0][0]);
  assert.deepStrictEqual([legend[0][1], legend[2][1], legend[4][1]], [legend[1][1], legend[3][1], legend[5][1]]);
  assert.strictEqual(new Set([legend[0][1], legend[2][1], legend[4][1]]).size, 3);
  assert.strictEqual(await page.inputValue('#prompt'), standIn.examples[firstHeldOut].source);
  await page.screenshot({ path: path.join(shotDir, 'web_demo_example.png'), fullPage: true });
  // A held-in example adds its own expert; another top-k changes Arrow's row.
  const heldIn = standIn.examples.findIndex((e) => e.task === 'geography');
  await page.selectOption('#example', String(heldIn));
  await page.waitForFunction(() => document.querySelector('#compare-table tr[data-condition="own"]') !== null);
  const ownRows = (await checkExample(page, heldIn)).rows;
  assert.ok((await page.textContent('#compare-table')).includes('own expert (geography)'));
  await page.fill('#example-topk', '1');
  await page.click('#compare');
  assert.ok((await page.textContent('#compare-table')).includes('Arrow top-1'));
  await checkExample(page, heldIn);
  assert.strictEqual(ownRows.length, 4);
  assert.ok((await page.textContent('#results-status')).startsWith('No results.json'), await page.textContent('#results-status'));

  // MBC: similarity matrix and k=3 clusters; the stand-in's experts come in
  // three families by construction (make_demo_library.cc).
  assert.strictEqual(await page.locator('#similarity tr').count(), 7);
  assert.strictEqual(await page.locator('#similarity td.sim').count(), 36);
  const clusters3 = await clusterTexts(page);
  assert.strictEqual(clusters3.length, 3, clusters3.join(' | '));
  for (const pair of ['arithmetic, logic', 'geography, grammar', 'poetry, code']) {
    assert.ok(clusters3.some((c) => c.endsWith(pair)), `${pair} in ${clusters3.join(' | ')}`);
  }
  await page.fill('#mbc-k', '2');
  await page.click('#cluster');
  assert.strictEqual((await clusterTexts(page)).length, 2);
  await page.fill('#mbc-k', '9');
  await page.click('#cluster');
  assert.ok((await page.textContent('#error')).includes('k must be in [1, 6]'), await page.textContent('#error'));

  // Merge three experts with TIES.
  await page.selectOption('#method', 'ties');
  await page.fill('#params', '{"density": 0.3}');
  await page.click('#merge');
  await page.waitForFunction(() => document.getElementById('merge-result').textContent.length > 0 ||
                                   document.getElementById('error').textContent.length > 0);
  assert.strictEqual(await page.textContent('#error'), '');
  assert.ok((await page.textContent('#merge-result')).startsWith('ties: 3 experts, 16 modules'),
            await page.textContent('#merge-result'));
  assert.ok(await page.locator('#merge-table tr').count() > 1);

  // A bad parameter shows the core's message.
  await page.fill('#params', '{"density": 2}');
  await page.click('#merge');
  await page.waitForFunction(() => document.getElementById('error').textContent.length > 0);
  assert.ok((await page.textContent('#error')).includes('density'), await page.textContent('#error'));

  // Routed generation: answer and heatmap (rows = tokens fed, columns = layers).
  await page.fill('#prompt', 'Hello');
  await page.fill('#ntokens', '8');
  await page.click('#run');
  await page.waitForFunction(() => document.querySelectorAll('#heatmap td.cell').length > 0, null, { timeout: 60000 });
  assert.ok((await page.textContent('#answer')).length > 0);
  const steps = +(await page.getAttribute('#speed', 'data-steps'));
  // <bos> Hello <sep> = 7 prompt tokens, then up to 8 generated (the last is not fed).
  assert.ok(steps >= 7 && steps <= 7 + 8 - 1, `steps ${steps}`);
  assert.strictEqual(await page.locator('#heatmap tr').count(), 1 + steps);
  assert.strictEqual(await page.locator('#heatmap td.cell').count(), steps * 4);
  assert.strictEqual(await page.textContent('#heatmap tr:nth-child(2) td:first-child'), '<bos>');
  console.log(await page.textContent('#speed'));
  await page.screenshot({ path: path.join(shotDir, 'web_demo.png'), fullPage: true });

  // 2. Choosing a library's files (library.pb + experts, no base model):
  //    the page reads the manifest with protobufjs, the core validates it.
  const libDir = path.join(bundleDir, 'library');
  const libFiles = fs.readdirSync(libDir).filter((f) => f === 'library.pb' || f.endsWith('.safetensors'))
    .map((f) => path.join(libDir, f));
  await page.setInputFiles('#files', libFiles.filter((f) => !f.endsWith('logic.safetensors')));
  await page.waitForFunction(() => document.getElementById('error').textContent.length > 0);
  assert.ok((await page.textContent('#error')).includes('logic.safetensors'), await page.textContent('#error'));
  await page.setInputFiles('#files', libFiles);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('ready (library'));
  assert.ok(!(await page.isVisible('#banner')));
  assert.strictEqual(await page.locator('#experts tr').count(), 7);

  // 3. A bundle served with --demo DIR whose bundle.json is malformed: one
  //    line says so, no banner, no examples; the rest of the page works.
  const served = await open(context, urlBundle, errors);
  assert.ok(!(await served.isVisible('#banner')), 'no banner for a served bundle');
  assert.ok((await served.textContent('#library')).includes('6 experts'));
  const bundleStatus = await served.textContent('#bundle-status');
  assert.ok(bundleStatus.startsWith('bundle.json: not JSON: '), bundleStatus);
  assert.ok(!bundleStatus.includes('\n'), 'one line');
  assert.strictEqual(await served.locator('#example option').count(), 0);
  assert.ok(await served.isDisabled('#compare'));
  assert.strictEqual(await served.textContent('#error'), '');
  // Its results.json: the claims with their verdicts, and the reuse plot's
  // bars at the metrics' means (a series without a held-in metric has no
  // held-in bar).
  const results = JSON.parse(fs.readFileSync(path.join(bundleDir, 'results.json'), 'utf8'));
  assert.ok((await served.textContent('#results-status')).includes('quick scale, 3 seeds'),
            await served.textContent('#results-status'));
  const claims = await served.locator('#claims tr[data-claim]').evaluateAll((trs) => trs.map((tr) => ({
    id: tr.dataset.claim, verdict: tr.lastElementChild.textContent })));
  assert.deepStrictEqual(claims.map((c) => c.id), results.claims.map((c) => c.id));
  results.claims.forEach((c, i) => assert.ok(claims[i].verdict.startsWith(c.verdict), claims[i].verdict));
  assert.ok(claims[1].verdict.includes('known failure'));
  const bars = await served.locator('#reuse-plot rect.bar').evaluateAll((rects) => rects.map((r) => ({
    series: r.dataset.series, category: r.dataset.category, value: +r.dataset.value })));
  const wantBars = [];
  results.plots[0].categories.forEach((category, c) => results.plots[0].series.forEach((s) => {
    if (s.metrics[c]) wantBars.push({ series: s.label, category, value: results.metrics[s.metrics[c]].mean });
  }));
  assert.deepStrictEqual(bars, wantBars);
  await served.screenshot({ path: path.join(shotDir, 'web_demo_bundle.png'), fullPage: true });

  assert.deepStrictEqual(errors, []);
  await context.close();
  console.log('PASS');
})().catch((e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
