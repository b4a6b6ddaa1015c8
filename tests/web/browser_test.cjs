// Headless Debian chromium (playwright-core, never a downloaded browser)
// drives the demo page: the random stand-in (banner, library table, MBC
// clusters, merge, routed generation with heatmap, errors), loading a
// library by choosing its files, and a bundle served with --demo (no
// banner). Saves screenshots.
// usage: node browser_test.cjs URL_RANDOM URL_BUNDLE BUNDLE_DIR SCREENSHOT_DIR
//   (NODE_PATH: web/node_modules)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const [urlRandom, urlBundle, bundleDir, shotDir] = process.argv.slice(2);

async function open(context, url, errors) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('status').textContent),
                             null, { timeout: 90000 });
  assert.strictEqual(await page.textContent('#status'), 'ready', await page.textContent('#error'));
  return page;
}

async function clusterTexts(page) {
  return page.locator('#clusters .cluster').allTextContents();
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

  // 3. A bundle served with --demo DIR (no bundle.json): no banner.
  const served = await open(context, urlBundle, errors);
  assert.ok(!(await served.isVisible('#banner')), 'no banner for a served bundle');
  assert.ok((await served.textContent('#library')).includes('6 experts'));
  await served.screenshot({ path: path.join(shotDir, 'web_demo_bundle.png'), fullPage: true });

  assert.deepStrictEqual(errors, []);
  await context.close();
  console.log('PASS');
})().catch((e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
