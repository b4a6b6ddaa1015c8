// The demo page: loads a bundle (base model + expert library, bundle.json,
// results.json), merges chosen experts, runs routed generation, and shows the
// routing, the experts' similarity and their MBC clusters. The examples,
// side-by-side answers, routing shares and claims are story.js's.
'use strict';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
// state.single holds the base model with at most one expert: the base
// condition (none) and a held-in task's own expert. state.bundle: the parsed
// bundle.json (null when absent or malformed).
const state = { libra: null, model: null, single: null, library: null, config: null, protoText: null, bundle: null };
const $ = (id) => document.getElementById(id);
const escapeHtml = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function showError(e) {
  $('error').textContent = (e && e.name === 'LibraError') ? `${e.code}: ${e.message}` : String(e);
}

// null when the file is absent (404), so openLibrary can try alternatives.
async function fetchBytes(url) {
  const response = await fetch(url);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// A file a bundle may lack: serve.py answers `?optional` requests for missing
// files with 204, so the console shows no 404; null when absent.
async function fetchOptionalText(url) {
  const response = await fetch(`${url}?optional`);
  if (response.status === 204 || response.status === 404) return null;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

// base: {configText, weights} or null to keep the current model;
// bundleText: bundle.json's text, null when the bundle has none, undefined
// to keep the current one.
function loadBundle(base, library, bundleText) {
  if (base) {
    if (state.model) state.model.dispose();
    if (state.single) state.single.dispose();
    state.model = state.libra.createModel(base.configText, base.weights);
    state.single = state.libra.createModel(base.configText, base.weights);
    state.config = JSON.parse(base.configText);
  } else if (!state.model) {
    throw new Error('no base model: include config.json and model.safetensors');
  }
  state.model.clearExperts();
  for (const e of library.loraExperts()) state.model.addLibraryExpert(library.manifest, e.name, e.bytes);
  state.library = library;
  if (bundleText !== undefined) setBundle(bundleText);
  $('mbc-k').value = Math.min(3, library.loraExperts().length);
  renderLibrary();
  checkPrototypes();
  cluster();
  renderExamplePicker();
}

function renderLibrary() {
  const c = state.config, m = state.library.manifest, experts = state.library.experts;
  $('library').textContent = `library "${m.name}" (base ${m.base_model || '?'}): ${experts.length} experts. ` +
      `Base model: d=${c.hidden_size}, ${c.num_hidden_layers} layers, ` +
      `${c.num_attention_heads} heads (${c.num_key_value_heads} KV), vocab ${c.vocab_size}.`;
  let rows = '<tr><th>expert</th><th>type</th><th>rank</th><th>alpha</th><th>tasks</th><th>file</th>' +
             '<th>sha256</th><th>auxiliary</th></tr>';
  for (const e of experts) {
    const r = e.record;
    rows += `<tr><td>${escapeHtml(r.name)}</td><td>${r.adapter_type}</td><td>${r.lora.rank}</td>` +
            `<td>${r.lora.alpha}</td><td>${escapeHtml(r.tasks.join(', '))}</td><td>${escapeHtml(r.file_name)}</td>` +
            `<td><code>${r.sha256.slice(0, 12)}</code></td><td>${escapeHtml(Object.keys(r.auxiliary_files).join(', '))}</td></tr>`;
  }
  $('experts').innerHTML = rows;
  $('merge-experts').innerHTML = experts.map((e, i) =>
    `<label><input type="checkbox" class="merge-choice" value="${i}" ${i < 3 ? 'checked' : ''}> ${escapeHtml(e.name)}</label>`).join('');
  $('legend').innerHTML = legendHtml();
}

// The library's stored Arrow prototypes (aux/arrow, `libra arrow`) against
// the ones computed here in wasm from each module's A and B: the
// prototype is a unit vector up to sign, so |cos| should be 1.
function checkPrototypes() {
  let modules = 0, worst = 1, experts = 0;
  for (const e of state.library.loraExperts()) {
    const stored = e.auxiliary && e.auxiliary.arrow;
    if (!stored) continue;
    experts++;
    for (const t of state.libra.inspect(stored, `${e.name} prototypes`).tensors) {
      if (!t.name.endsWith('.prototypes')) continue;
      const module = t.name.slice(0, -'.prototypes'.length);
      const a = state.libra.readTensor(e.bytes, `${module}.lora_A.weight`, e.record.file_name);
      const b = state.libra.readTensor(e.bytes, `${module}.lora_B.weight`, e.record.file_name);
      const rank = a.length / t.shape[1];
      const mine = state.libra.prototype(a, [rank, t.shape[1]], b, [b.length / rank, rank], 1);
      const theirs = state.libra.readTensor(stored, t.name, `${e.name} prototypes`);
      let dot = 0;
      for (let i = 0; i < mine.length; i++) dot += mine[i] * theirs[i];
      worst = Math.min(worst, Math.abs(dot));
      modules++;
    }
  }
  $('prototypes').textContent = modules === 0
    ? 'Arrow prototypes: none stored in this library (the engine computes its own).'
    : `Arrow prototypes stored in the library (aux/arrow) for ${experts} experts, ${modules} modules; ` +
      `recomputed in wasm they agree to |cos| >= ${worst.toFixed(6)}.`;
  $('prototypes').dataset.worst = worst;
}

function merge() {
  $('error').textContent = '';
  try {
    const chosen = Array.from(document.querySelectorAll('.merge-choice:checked')).map((x) => state.library.experts[+x.value]);
    const params = JSON.parse($('params').value || '{}');
    const t0 = performance.now();
    const result = state.libra.mergeExperts($('method').value, params, chosen, 'delta', state.library.manifest);
    const ms = performance.now() - t0;
    const inspected = state.libra.inspect(result.bytes, 'merged.safetensors');
    let rows = '<tr><th>tensor</th><th>shape</th><th>Frobenius norm</th><th>sparsity</th></tr>';
    for (const t of inspected.tensors) {
      const values = state.libra.readTensor(result.bytes, t.name, 'merged.safetensors');
      let sq = 0, zeros = 0;
      for (const v of values) { sq += v * v; if (v === 0) zeros++; }
      rows += `<tr><td>${escapeHtml(t.name)}</td><td>[${t.shape.join(', ')}]</td><td>${Math.sqrt(sq).toFixed(4)}</td>` +
              `<td>${(100 * zeros / values.length).toFixed(1)}%</td></tr>`;
    }
    $('merge-table').innerHTML = rows;
    $('merge-result').textContent = `${$('method').value}: ${chosen.length} experts, ${result.modules} modules, ` +
        `${(result.bytes.length / 1e6).toFixed(2)} MB in ${ms.toFixed(1)} ms` +
        (result.warnings.length ? ` (warnings: ${result.warnings.join('; ')})` : '');
  } catch (e) { showError(e); }
}

function run() {
  $('error').textContent = '';
  try {
    const t0 = performance.now();
    const out = state.model.generate($('prompt').value, { maxNewTokens: +$('ntokens').value, topK: +$('topk').value,
                                                          frame: $('frame').checked });
    const seconds = (performance.now() - t0) / 1000;
    $('answer').textContent = out.text.length ? out.text : `(tokens ${out.tokens.join(' ')})`;
    $('speed').textContent = `${out.steps} tokens through the model in ${seconds.toFixed(3)} s: ` +
        `${(out.steps / seconds).toFixed(1)} tokens/s (prompt + generated, Arrow top-${$('topk').value})`;
    $('speed').dataset.steps = out.steps;
    renderHeatmap(out);
  } catch (e) { showError(e); }
}

// Visible labels for the heatmap's rows: a space and a newline are tokens too.
function tokenLabel(token) {
  if (token === 32) return '\u2423';  // open box
  if (token === 10) return '\u23ce';  // return symbol
  if (token > 32 && token < 127) return String.fromCharCode(token);
  const special = Object.entries(Libra.BYTE_TOKENS).find(([, id]) => id === token);
  return special ? `<${special[0]}>` : `#${token}`;
}

// Rows: tokens (prompt, then generated); columns: layers. Each cell shows
// the expert with the largest mean routing weight, coloured by its task
// family (by expert without a bundle.json) and shaded by that weight; with
// `related` (a Set of expert indices), those experts' cells are outlined.
function renderHeatmap(out, tableId = 'heatmap', related = null) {
  const all = out.promptTokens.concat(out.tokens);
  const names = state.library.loraExperts().map((e) => e.name);
  let html = '<tr><th>token</th>' + out.perLayer[0].map((_, l) => `<th>L${l}</th>`).join('') + '</tr>';
  out.perLayer.forEach((layers, t) => {
    html += `<tr><td>${escapeHtml(tokenLabel(all[t]))}</td>`;
    for (const weights of layers) {
      let best = 0;
      for (let e = 1; e < weights.length; e++) if (weights[e] > weights[best]) best = e;
      const w = weights[best] || 0;
      const title = Array.from(weights).map((x, e) => `${names[e]}: ${x.toFixed(2)}`).join('\n');
      const mark = related && related.has(best) ? ' related' : '';
      html += `<td class="cell${mark}" title="${escapeHtml(title)}" style="background:${expertColor(best)};` +
              `opacity:${(0.25 + 0.75 * w).toFixed(2)}">${best}</td>`;
    }
    html += '</tr>';
  });
  $(tableId).innerHTML = html;
}

// MBC in wasm; the similarity table's row headers take their cluster's colour.
function cluster() {
  $('error').textContent = '';
  try {
    const experts = state.library.loraExperts();
    const options = { k: +$('mbc-k').value, sparsityQuantile: +$('mbc-q').value, seed: +$('mbc-seed').value };
    const t0 = performance.now();
    const mbc = state.libra.cluster(experts, options);
    const ms = performance.now() - t0;
    const n = experts.length;
    const color = (i) => COLORS[mbc.assignment[i] % COLORS.length];
    let html = '<tr><th></th>' + experts.map((e) => `<th>${escapeHtml(e.name)}</th>`).join('') + '</tr>';
    for (let i = 0; i < n; i++) {
      html += `<tr><th style="color:#fff;background:${color(i)}">${escapeHtml(experts[i].name)}</th>`;
      for (let j = 0; j < n; j++) {
        const cos = mbc.similarity[i * n + j];
        html += `<td class="sim" style="background:rgba(31,119,180,${Math.abs(cos).toFixed(2)})">${cos.toFixed(2)}</td>`;
      }
      html += '</tr>';
    }
    $('similarity').innerHTML = html;
    const groups = new Map();
    mbc.assignment.forEach((c, i) => groups.set(c, (groups.get(c) || []).concat(experts[i].name)));
    $('clusters').innerHTML = Array.from(groups.entries()).sort((a, b) => a[0] - b[0]).map(([c, names]) =>
      `<div class="cluster"><span style="background:${COLORS[c % COLORS.length]}">cluster ${c}</span>` +
      `${names.map(escapeHtml).join(', ')}</div>`).join('');
    $('mbc-result').textContent = `k=${options.k}, sparsity quantile ${options.sparsityQuantile}, ` +
        `${mbc.dims}-dimensional embedding, inertia ${mbc.inertia.toFixed(4)}, ${ms.toFixed(1)} ms`;
  } catch (e) { showError(e); }
}

// Dropped files (a folder or a selection): the library is wherever
// library.pb (or library.json) is; a base model is optional.
async function loadDroppedFiles(fileList) {
  const files = Array.from(fileList).map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
  const manifestFile = files.find((f) => /(^|\/)library\.(pb|json)$/.test(f.path));
  if (!manifestFile) throw new Error('no library.pb (or library.json) among the chosen files');
  const root = manifestFile.path.slice(0, manifestFile.path.lastIndexOf('/') + 1);
  const byPath = new Map(files.map((f) => [f.path, f.file]));
  const library = await state.libra.openLibrary(async (rel) => {
    const file = byPath.get(root + rel);
    return file ? new Uint8Array(await file.arrayBuffer()) : null;
  }, { protoText: state.protoText, auxiliary: ['arrow'] });
  const config = files.find((f) => /(^|\/)config\.json$/.test(f.path));
  const weights = files.find((f) => /(^|\/)model\.safetensors$/.test(f.path));
  const base = config && weights ? { configText: await config.file.text(),
                                     weights: new Uint8Array(await weights.file.arrayBuffer()) } : null;
  // bundle.json and results.json sit next to library/ in a bundle folder.
  const bundleRoot = root.replace(/[^/]*\/$/, '');
  const bundleFile = byPath.get(`${bundleRoot}bundle.json`);
  const resultsFile = byPath.get(`${bundleRoot}results.json`);
  loadBundle(base, library, bundleFile ? await bundleFile.text() : undefined);
  if (resultsFile) setResults(await resultsFile.text());
  $('banner').hidden = true;
  compareFirstExample();
  $('status').textContent = `ready (library from ${root || 'chosen files'})`;
}

async function main() {
  try {
    state.libra = await Libra.loadLibra();
    $('method').innerHTML = state.libra.methods().map((m) =>
      `<option ${m.name === 'ties' ? 'selected' : ''}>${m.name}</option>`).join('');
    state.protoText = await (await fetch('library.proto')).text();
    const bundleText = await fetchOptionalText('demo/bundle.json');
    const configText = new TextDecoder().decode(await fetchBytes('demo/base/config.json'));
    const weights = await fetchBytes('demo/base/model.safetensors');
    const library = await state.libra.openLibrary((rel) => fetchBytes(`demo/library/${rel}`),
                                                  { protoText: state.protoText, auxiliary: ['arrow'] });
    loadBundle({ configText, weights }, library, bundleText);
    setResults(await fetchOptionalText('demo/results.json'));
    $('merge').onclick = merge;
    $('run').onclick = run;
    $('cluster').onclick = cluster;
    $('compare').onclick = compare;
    $('example').onchange = compare;
    compareFirstExample();
    const onFiles = (ev) => loadDroppedFiles(ev.target.files).catch(showError);
    $('files').onchange = onFiles;
    $('folder').onchange = onFiles;
    $('status').textContent = 'ready';
  } catch (e) {
    $('status').textContent = 'failed';
    showError(e);
  }
}
main();
