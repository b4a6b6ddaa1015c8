// The demo page's story panels (web/README.md): the bundle's examples
// (bundle.json) in a picker, the side-by-side answers of the base model, the
// uniform merge, Arrow and the task's own expert, Arrow's routing of the
// example against chance, and the run's claims and reuse plot
// (results.json). Uses app.js's state and helpers; app.js calls setBundle,
// renderExamplePicker, compareFirstExample and setResults.
'use strict';
const UNKNOWN_FAMILY_COLOR = '#888';
// A parser's message may quote several lines of the input; the page shows one.
const oneLine = (text) => String(text).replace(/\s+/g, ' ').trim();

// One-line reasons, naming the item, for a bundle.json the page cannot use.
function checkBundle(bundle, vocabSize) {
  const isStringList = (x) => Array.isArray(x) && x.every((v) => typeof v === 'string');
  if (bundle === null || typeof bundle !== 'object' || Array.isArray(bundle)) throw new Error('not a JSON object');
  if (bundle.tasks === undefined && bundle.examples === undefined) return;  // a bundle without examples
  if (!Array.isArray(bundle.tasks) || !Array.isArray(bundle.examples)) {
    throw new Error('"tasks" and "examples" must both be lists');
  }
  const names = new Set();
  bundle.tasks.forEach((t, i) => {
    if (!t || typeof t.name !== 'string' || typeof t.family !== 'string' || typeof t.held_out !== 'boolean' ||
        !isStringList(t.related)) {
      throw new Error(`task ${i}: expected {name, family, held_out (true/false), related (list of names)}`);
    }
    names.add(t.name);
  });
  bundle.examples.forEach((e, i) => {
    const what = `example ${i}`;
    if (!e || !names.has(e.task)) throw new Error(`${what}: task ${JSON.stringify(e && e.task)} is not in "tasks"`);
    if (typeof e.source !== 'string' || typeof e.target !== 'string') throw new Error(`${what}: source and target must be text`);
    if (!Array.isArray(e.ids) || !e.ids.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) {
      throw new Error(`${what}: ids must be token ids in [0, ${vocabSize})`);
    }
    if (!Number.isInteger(e.target_start) || e.target_start < 1 || e.target_start >= e.ids.length) {
      throw new Error(`${what}: target_start ${e.target_start} is outside [1, ${e.ids.length - 1}]`);
    }
  });
}

// Parses bundle.json text into state.bundle, or leaves it null and says why
// in one line. The banner shows only for the random stand-in.
function setBundle(text) {
  state.bundle = null;
  $('bundle-status').textContent = '';
  $('banner').hidden = true;
  if (text === null) {
    $('bundle-status').textContent = 'This bundle has no bundle.json: no examples to pick (free text below works).';
    return;
  }
  let bundle;
  try {
    bundle = JSON.parse(text);
    checkBundle(bundle, state.config.vocab_size);
  } catch (e) {
    $('bundle-status').textContent = `bundle.json: ${e instanceof SyntaxError ? 'not JSON' : 'not usable'}: ${oneLine(e.message)}`;
    return;
  }
  $('banner').hidden = bundle.random_weights !== true;
  state.bundle = {
    examples: bundle.examples || [],
    tasks: new Map((bundle.tasks || []).map((t) => [t.name, t])),
    families: Array.from(new Set((bundle.tasks || []).map((t) => t.family))),
    byteTokens: (bundle.tokenizer || 'byte') === 'byte',
  };
}

// The family of a library expert: that of the first of its record's tasks
// that bundle.json lists; null without one.
function expertFamily(index) {
  if (!state.bundle) return null;
  const expert = state.library.loraExperts()[index];
  const task = expert && expert.record.tasks.map((name) => state.bundle.tasks.get(name)).find(Boolean);
  return task ? task.family : null;
}

function expertColor(index) {
  if (!state.bundle || state.bundle.families.length === 0) return COLORS[index % COLORS.length];
  const family = expertFamily(index);
  return family === null ? UNKNOWN_FAMILY_COLOR : COLORS[state.bundle.families.indexOf(family) % COLORS.length];
}

function legendHtml() {
  return state.library.loraExperts().map((e, i) => {
    const family = expertFamily(i);
    return `<span style="background:${expertColor(i)}" title="${escapeHtml(family || '')}">` +
           `${i} ${escapeHtml(e.name)}${family ? ` (${escapeHtml(family)})` : ''}</span>`;
  }).join('');
}

// Held-out examples first: the paper's question is whether routing helps on
// tasks no expert was trained on.
function renderExamplePicker() {
  $('legend').innerHTML = legendHtml();
  $('example-legend').innerHTML = legendHtml();
  const examples = state.bundle ? state.bundle.examples : [];
  const group = (heldOut, title) => {
    const options = examples.map((e, i) => ({ e, i })).filter(({ e }) => state.bundle.tasks.get(e.task).held_out === heldOut)
      .map(({ e, i }) => {
        const task = state.bundle.tasks.get(e.task);
        const source = e.source.length > 60 ? `${e.source.slice(0, 57)}...` : e.source;
        return `<option value="${i}">${escapeHtml(`${e.task} (${task.family}): ${source}`)}</option>`;
      });
    return options.length ? `<optgroup label="${title}">${options.join('')}</optgroup>` : '';
  };
  $('example').innerHTML = examples.length ? group(true, 'held-out tasks') + group(false, 'held-in tasks') : '';
  $('example').disabled = $('compare').disabled = examples.length === 0;
  ['example-info', 'compare-table', 'example-heatmap', 'routing-share'].forEach((id) => { $(id).innerHTML = ''; });
}

// Library experts trained on the example's task or one of its related tasks
// (manifest records' tasks), as indices into loraExperts().
function relatedExperts(task) {
  const wanted = new Set(task.related.concat([task.name]));
  const related = new Set();
  state.library.loraExperts().forEach((e, i) => { if (e.record.tasks.some((t) => wanted.has(t))) related.add(i); });
  return related;
}

function ownExpert(task) {
  if (task.held_out) return null;
  return state.library.loraExperts().find((e) => e.record.tasks.includes(task.name)) || null;
}

// Teacher-forced token accuracy (nn::TargetTokenAccuracy): position k
// predicts ids[k + 1], over the target and its <eos>.
function teacherForcedAccuracy(ids, targetStart, logits) {
  const vocab = logits.length / ids.length;
  let correct = 0, total = 0;
  for (let k = targetStart - 1; k <= ids.length - 2; k++) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[k * vocab + v] > logits[k * vocab + best]) best = v;
    correct += best === ids[k + 1];
    total++;
  }
  return { correct, total };
}

// nn::ExactMatch: equal up to whitespace.
const sameWords = (a, b) => a.trim().split(/\s+/).join(' ') === b.trim().split(/\s+/).join(' ');

function decodeAnswer(tokens) {
  if (state.bundle && !state.bundle.byteTokens) return `(tokens ${tokens.join(' ')})`;
  return Libra.decodeTokens(tokens);
}

// One condition's greedy answer and teacher-forced score on the example.
// The answer may run 8 tokens past the target's length, within the model's
// positions (the lab's base holds exactly its longest example).
function scoreCondition(model, options, example) {
  const prompt = example.ids.slice(0, example.target_start);
  const targetTokens = example.ids.length - example.target_start;
  const positions = state.config.max_position_embeddings || Infinity;
  const maxNewTokens = Math.min(targetTokens + 8, positions - prompt.length);
  const out = model.generate(prompt, Object.assign({ maxNewTokens, eos: Libra.BYTE_TOKENS.eos }, options));
  const answer = decodeAnswer(out.tokens);
  const accuracy = teacherForcedAccuracy(example.ids, example.target_start, model.logits(example.ids, options));
  return { answer, right: sameWords(answer, example.target), accuracy };
}

function conditionsFor(task, topK) {
  const n = state.library.loraExperts().length;
  const own = ownExpert(task);
  const conditions = [
    { id: 'base', label: 'base model', model: 'single', expert: null, options: {} },
    { id: 'uniform', label: `uniform merge of the ${n} experts`, model: 'library', options: { mode: 'uniform' } },
    { id: 'arrow', label: `Arrow top-${topK}`, model: 'library', options: { mode: 'arrow', topK } },
  ];
  if (own) conditions.push({ id: 'own', label: `own expert (${own.name})`, model: 'single', expert: own, options: { mode: 'uniform' } });
  return conditions;
}

function modelFor(condition) {
  if (condition.model === 'library') return state.model;
  state.single.clearExperts();
  if (condition.expert) state.single.addLibraryExpert(state.library.manifest, condition.expert.name, condition.expert.bytes);
  return state.single;
}

function renderComparison(rows) {
  let html = '<tr><th>condition</th><th>answer (greedy)</th><th></th><th>token accuracy (teacher-forced)</th></tr>';
  for (const { condition, answer, right, accuracy } of rows) {
    const share = accuracy.total ? accuracy.correct / accuracy.total : 0;
    html += `<tr data-condition="${condition.id}" data-right="${right}" data-correct-tokens="${accuracy.correct}" ` +
            `data-tokens="${accuracy.total}" data-answer="${escapeHtml(answer)}"><td>${escapeHtml(condition.label)}</td>` +
            `<td class="answer">${answer === '' ? '<i>(no text)</i>' : escapeHtml(answer)}</td>` +
            `<td class="${right ? 'right' : 'wrong'}">${right ? 'right' : 'wrong'}</td>` +
            `<td>${accuracy.correct}/${accuracy.total} = ${(100 * share).toFixed(0)}%</td></tr>`;
  }
  $('compare-table').innerHTML = html;
}

// Per layer, as papers/arrow_mbc's RoutingDiagnostics (nn::TopExpertShare,
// nn::MeanRoutingEntropy): per adapted projection, the share of tokens whose
// top expert (first on ties) is in `related` and the mean entropy of the
// routing weights; then the mean over the layer's adapted projections.
function routingByLayer(out, related) {
  const { steps, layers, projections: P, experts: E, routing } = out;
  const rows = [];
  for (let l = 0; l < layers; l++) {
    let share = 0, entropy = 0, modules = 0;
    for (let p = 0; p < P; p++) {
      let hits = 0, h = 0, routed = 0;
      for (let t = 0; t < steps; t++) {
        const base = ((t * layers + l) * P + p) * E;
        let best = 0, sum = 0, ent = 0;
        for (let e = 0; e < E; e++) {
          const w = routing[base + e];
          sum += w;
          if (w > 0) ent -= w * Math.log(w);
          if (w > routing[base + best]) best = e;
        }
        if (sum === 0) continue;  // this projection has no experts
        routed++;
        hits += related.has(best) ? 1 : 0;
        h += ent;
      }
      if (routed === 0) continue;
      modules++;
      share += hits / routed;
      entropy += h / routed;
    }
    rows.push({ layer: l, modules, share: modules ? share / modules : 0, entropy: modules ? entropy / modules : 0 });
  }
  return rows;
}

function renderRoutingShare(rows, related, experts) {
  const chance = experts ? related.size / experts : 0;
  const mean = (key) => rows.reduce((sum, r) => sum + r[key], 0) / rows.length;
  const row = (label, share, entropy, attrs) =>
    `<tr ${attrs}><td>${label}</td><td>${(100 * share).toFixed(1)}%</td><td>${(100 * chance).toFixed(1)}%</td>` +
    `<td>${entropy.toFixed(3)}</td></tr>`;
  let html = '<tr><th>layer</th><th>tokens to related experts</th><th>chance</th><th>entropy (nats)</th></tr>';
  for (const r of rows) html += row(`L${r.layer}`, r.share, r.entropy, `data-layer="${r.layer}" data-share="${r.share}" data-entropy="${r.entropy}"`);
  html += row('<b>mean</b>', mean('share'), mean('entropy'), `data-layer="mean" data-share="${mean('share')}" data-chance="${chance}"`);
  $('routing-share').innerHTML = html;
}

function exampleInfo(example, task, related) {
  const names = state.library.loraExperts().filter((_, i) => related.has(i)).map((e) => e.name);
  return `<b>${escapeHtml(task.name)}</b> (family ${escapeHtml(task.family)}, ${task.held_out ? 'held-out: no expert was trained on it' : 'held-in'}); ` +
         `related experts: ${names.length ? escapeHtml(names.join(', ')) : 'none in this library'}. ` +
         `Prompt: <code>${escapeHtml(example.source)}</code>; expected answer: <code>${escapeHtml(example.target)}</code>.`;
}

// The side-by-side answers for the chosen example, then Arrow's routing of
// its tokens (teacher-forced, as the paper's diagnostic routes test examples).
function compare() {
  $('error').textContent = '';
  try {
    const example = state.bundle.examples[+$('example').value];
    const task = state.bundle.tasks.get(example.task);
    const topK = +$('example-topk').value;
    const related = relatedExperts(task);
    $('example-info').innerHTML = exampleInfo(example, task, related);
    $('prompt').value = example.source;  // free text below starts from it
    const rows = conditionsFor(task, topK).map((condition) =>
      Object.assign({ condition }, scoreCondition(modelFor(condition), condition.options, example)));
    renderComparison(rows);
    const routed = state.model.generate(example.ids, { mode: 'arrow', topK, maxNewTokens: 1 });
    renderHeatmap(routed, 'example-heatmap', related);
    renderRoutingShare(routingByLayer(routed, related), related, state.library.loraExperts().length);
  } catch (e) { showError(e); }
}

// results.json: the run's claims and its reuse plot.

const RELATION = { greater: '>', less: '<', at_least: '>=', at_most: '<=', approx_equal: '~=' };

function quantityText(quantity, summary) {
  if (quantity && quantity.constant !== undefined) return String(quantity.constant);
  const name = quantity && quantity.metric ? quantity.metric : '?';
  return summary ? `${escapeHtml(name)} = ${summary.mean.toFixed(3)} ± ${summary.std.toFixed(3)}` : escapeHtml(name);
}

function renderClaims(results) {
  let html = '<tr><th>claim</th><th>a</th><th></th><th>b</th><th>margin</th><th>verdict</th></tr>';
  for (const c of results.claims) {
    const verdict = String(c.verdict);
    const known = c.known_failure ? ' (known failure, expectations.json)' : '';
    html += `<tr data-claim="${escapeHtml(c.id)}"><td title="${escapeHtml(c.id)}">${escapeHtml(c.statement || c.id)}</td>` +
            `<td>${quantityText(c.a, c.a_summary)}</td><td>${RELATION[c.direction] || escapeHtml(c.direction)}</td>` +
            `<td>${quantityText(c.b, c.b_summary)}</td><td>${c.margin}</td>` +
            `<td class="verdict-${verdict.replace(/\s+/g, '-')}">${escapeHtml(verdict + known)}</td></tr>`;
  }
  $('claims').innerHTML = html;
}

// The "reuse" bar plot spec of results.json (papers/common/plot.py draws the
// same spec): per category a bar per series, the mean over seeds, with ± std.
function renderReusePlot(results) {
  const spec = (results.plots || []).find((p) => p.id === 'reuse' && p.kind === 'bar');
  if (!spec) { $('reuse-plot').textContent = 'results.json has no "reuse" plot.'; return; }
  const metric = (name) => (name && results.metrics[name]) || null;
  const width = 760, height = 260, left = 40, bottom = 40, top = 30;
  const groups = spec.categories.length, series = spec.series.length;
  const groupWidth = (width - left) / groups, barWidth = (groupWidth - 30) / series;
  const max = Math.max(1e-9, ...spec.series.flatMap((s) => s.metrics.map((m) => (metric(m) ? metric(m).mean + metric(m).std : 0))));
  const y = (v) => height - bottom - (height - bottom - top) * v / max;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20 * Math.ceil(series / 4)}">` +
            `<text x="${left}" y="16" font-size="13">${escapeHtml(spec.title || 'reuse')}` +
            `${spec.ylabel ? ` (${escapeHtml(spec.ylabel)})` : ''}</text>` +
            `<line x1="${left}" y1="${y(0)}" x2="${width}" y2="${y(0)}" stroke="#333"/>` +
            `<text x="4" y="${y(max)}" font-size="10">${max.toFixed(2)}</text><text x="4" y="${y(0)}" font-size="10">0</text>`;
  spec.categories.forEach((category, c) => {
    svg += `<text x="${left + c * groupWidth + groupWidth / 2}" y="${height - bottom + 16}" font-size="12" text-anchor="middle">${escapeHtml(category)}</text>`;
    spec.series.forEach((s, i) => {
      const m = metric(s.metrics[c]);
      if (!m) return;
      const x = left + c * groupWidth + 15 + i * barWidth;
      svg += `<rect class="bar" data-series="${escapeHtml(s.label)}" data-category="${escapeHtml(category)}" data-value="${m.mean}" ` +
             `x="${x}" y="${y(m.mean)}" width="${barWidth - 2}" height="${y(0) - y(m.mean)}" fill="${COLORS[i % COLORS.length]}">` +
             `<title>${escapeHtml(`${s.label}, ${category}: ${m.mean.toFixed(3)} ± ${m.std.toFixed(3)}`)}</title></rect>` +
             `<line x1="${x + barWidth / 2 - 1}" x2="${x + barWidth / 2 - 1}" y1="${y(m.mean + m.std)}" y2="${y(Math.max(0, m.mean - m.std))}" stroke="#000"/>`;
    });
  });
  spec.series.forEach((s, i) => {
    const x = left + (i % 4) * 180, yy = height + 20 * Math.floor(i / 4) + 4;
    svg += `<rect x="${x}" y="${yy - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>` +
           `<text x="${x + 14}" y="${yy}" font-size="11">${escapeHtml(s.label)}</text>`;
  });
  $('reuse-plot').innerHTML = svg + '</svg>';
}

function setResults(text) {
  ['claims', 'reuse-plot'].forEach((id) => { $(id).innerHTML = ''; });
  if (text === null) {
    $('results-status').textContent = 'No results.json in this bundle (paper (a)\'s run links the one it writes).';
    return;
  }
  try {
    const results = JSON.parse(text);
    if (!results || !Array.isArray(results.claims) || typeof results.metrics !== 'object') {
      throw new Error('expected "claims" (a list) and "metrics"');
    }
    const seeds = Array.isArray(results.seeds) ? `${results.seeds.length} seeds` : `seeds ${results.seeds || '?'}`;
    $('results-status').textContent = `results.json of ${results.paper || '?'} (${results.scale || '?'} scale, ` +
        `${seeds}, started ${results.started_utc || '?'}): its claims, and the reuse plot drawn from its metrics.`;
    renderClaims(results);
    renderReusePlot(results);
  } catch (e) {
    $('results-status').textContent = `results.json: not usable: ${oneLine(e.message)}`;
  }
}

// The first held-out example, compared at once: what the page is for.
function compareFirstExample() {
  if (!state.bundle || state.bundle.examples.length === 0) return;
  $('example').selectedIndex = 0;
  compare();
}
