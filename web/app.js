// The demo page: loads a library (base model + LoRA experts), merges chosen
// experts, runs routed generation and shows the routing and similarities.
'use strict';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const state = { libra: null, model: null, experts: [], config: null };
const $ = (id) => document.getElementById(id);

function showError(e) {
  $('error').textContent = (e && e.name === 'LibraError') ? `${e.code}: ${e.message}` : String(e);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function loadIntoModel(configText, weights, experts) {
  if (state.model) state.model.dispose();
  state.model = state.libra.createModel(configText, weights);
  for (const e of experts) state.model.addExpert(e.name, e.bytes);
  state.experts = experts;
  state.config = JSON.parse(configText);
  renderLibrary();
  renderSimilarity();
}

function renderLibrary() {
  const c = state.config;
  $('library').textContent = `base: d=${c.hidden_size}, ${c.num_hidden_layers} layers, ` +
      `${c.num_attention_heads} heads (${c.num_key_value_heads} KV), vocab ${c.vocab_size}; ` +
      `${state.experts.length} experts: ${state.experts.map((e) => e.name).join(', ')}`;
  $('merge-experts').innerHTML = state.experts.map((e, i) =>
    `<label><input type="checkbox" class="merge-choice" value="${i}" ${i < 3 ? 'checked' : ''}> ${e.name}</label>`).join('');
  $('legend').innerHTML = state.experts.map((e, i) =>
    `<span style="background:${COLORS[i % COLORS.length]}">${e.name}</span>`).join('');
}

function merge() {
  $('error').textContent = '';
  try {
    const chosen = Array.from(document.querySelectorAll('.merge-choice:checked')).map((x) => state.experts[+x.value]);
    const params = JSON.parse($('params').value || '{}');
    const t0 = performance.now();
    const result = state.libra.mergeExperts($('method').value, params, chosen);
    const ms = performance.now() - t0;
    const inspected = state.libra.inspect(result.bytes, 'merged.safetensors');
    let rows = '<tr><th>tensor</th><th>shape</th><th>Frobenius norm</th><th>sparsity</th></tr>';
    for (const t of inspected.tensors) {
      const values = state.libra.readTensor(result.bytes, t.name, 'merged.safetensors');
      let sq = 0, zeros = 0;
      for (const v of values) { sq += v * v; if (v === 0) zeros++; }
      rows += `<tr><td>${t.name}</td><td>[${t.shape.join(', ')}]</td><td>${Math.sqrt(sq).toFixed(4)}</td>` +
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
    const out = state.model.generate($('prompt').value, { maxNewTokens: +$('ntokens').value, topK: +$('topk').value });
    const seconds = (performance.now() - t0) / 1000;
    $('answer').textContent = out.text.length ? out.text : `(tokens ${out.tokens.join(' ')})`;
    $('speed').textContent = `${out.steps} tokens through the model in ${seconds.toFixed(3)} s: ` +
        `${(out.steps / seconds).toFixed(1)} tokens/s (prompt + generated, Arrow top-${$('topk').value})`;
    renderHeatmap(out);
  } catch (e) { showError(e); }
}

// Rows: tokens (prompt, then generated); columns: layers. Each cell shows
// the expert with the largest mean routing weight, shaded by that weight.
function renderHeatmap(out) {
  const all = out.promptTokens.concat(out.tokens);
  let html = '<tr><th>token</th>' + out.perLayer[0].map((_, l) => `<th>L${l}</th>`).join('') + '</tr>';
  out.perLayer.forEach((layers, t) => {
    const token = all[t];
    const label = token >= 32 && token < 127 ? String.fromCharCode(token) : `#${token}`;
    html += `<tr><td>${label.replace(/</g, '&lt;')}</td>`;
    for (const weights of layers) {
      let best = 0;
      for (let e = 1; e < weights.length; e++) if (weights[e] > weights[best]) best = e;
      const w = weights[best] || 0;
      const title = Array.from(weights).map((x, e) => `${state.experts[e].name}: ${x.toFixed(2)}`).join('\n');
      html += `<td class="cell" title="${title}" style="background:${COLORS[best % COLORS.length]};opacity:${(0.25 + 0.75 * w).toFixed(2)}">${best}</td>`;
    }
    html += '</tr>';
  });
  $('heatmap').innerHTML = html;
}

function flattenExpert(expert) {
  const info = state.libra.inspect(expert.bytes, expert.name);
  const parts = info.tensors.map((t) => state.libra.readTensor(expert.bytes, t.name, expert.name));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const p of parts) { flat.set(p, offset); offset += p.length; }
  return flat;
}

function renderSimilarity() {
  const flats = state.experts.map(flattenExpert);
  const n = flats.length;
  let html = '<tr><th></th>' + state.experts.map((e) => `<th>${e.name}</th>`).join('') + '</tr>';
  for (let i = 0; i < n; i++) {
    html += `<tr><th>${state.experts[i].name}</th>`;
    for (let j = 0; j < n; j++) {
      const a = flats[i], b = flats[j];
      let dot = 0, na = 0, nb = 0;
      if (a.length === b.length) for (let k = 0; k < a.length; k++) { dot += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
      const cos = na && nb ? dot / Math.sqrt(na * nb) : 0;
      html += `<td style="background:rgba(31,119,180,${Math.abs(cos).toFixed(2)})">${cos.toFixed(2)}</td>`;
    }
    html += '</tr>';
  }
  $('similarity').innerHTML = html;
}

async function loadDroppedFiles(files) {
  const byName = new Map(Array.from(files).map((f) => [f.name, f]));
  if (!byName.has('config.json') || !byName.has('model.safetensors')) {
    throw new Error('choose config.json, model.safetensors and expert .safetensors files');
  }
  const configText = await byName.get('config.json').text();
  const weights = new Uint8Array(await byName.get('model.safetensors').arrayBuffer());
  const experts = [];
  for (const [name, file] of byName) {
    if (name === 'config.json' || name === 'model.safetensors') continue;
    experts.push({ name: name.replace(/\.safetensors$/, ''), bytes: new Uint8Array(await file.arrayBuffer()) });
  }
  loadIntoModel(configText, weights, experts);
}

async function main() {
  try {
    state.libra = await Libra.loadLibra();
    $('method').innerHTML = state.libra.methods().map((m) =>
      `<option ${m.name === 'ties' ? 'selected' : ''}>${m.name}</option>`).join('');
    const manifest = await (await fetch('demo/library.json')).json();
    const configText = await (await fetch(`demo/${manifest.base.config}`)).text();
    const weights = await fetchBytes(`demo/${manifest.base.weights}`);
    const experts = [];
    for (const e of manifest.experts) experts.push({ name: e.name, bytes: await fetchBytes(`demo/${e.file}`) });
    loadIntoModel(configText, weights, experts);
    $('merge').onclick = merge;
    $('run').onclick = run;
    $('files').onchange = (ev) => loadDroppedFiles(ev.target.files).catch(showError);
    $('status').textContent = 'ready';
  } catch (e) {
    $('status').textContent = 'failed';
    showError(e);
  }
}
main();
