// In-browser side of the routed-generation benchmark: headless Debian
// chromium (playwright-core) loads the demo page served with --demo on the
// same bundle, then times the page's own model on the same prompt and
// options as generate_bench.cc (no eos stop), best of REPEATS.
// usage: node generate_browser.cjs URL NEW_TOKENS REPEATS TOP_K
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const [url, newTokens, repeats, topK] = process.argv.slice(2);
(async () => {
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'libra-bench-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('status').textContent),
                             null, { timeout: 120000 });
  if (await page.textContent('#status') !== 'ready') throw new Error(await page.textContent('#error'));
  const result = await page.evaluate(([n, r, k]) => {
    let best = Infinity;
    let steps = 0;
    for (let i = 0; i < r; i++) {
      const t0 = performance.now();
      const out = state.model.generate('Q: what is 2+2? A:', { maxNewTokens: n, topK: k, frame: true, eos: -1 });  // eslint-disable-line no-undef
      best = Math.min(best, (performance.now() - t0) / 1000);
      steps = out.steps;
    }
    return { steps, best };
  }, [+newTokens, +repeats, +topK]);
  console.log(`chromium ${result.steps} ${result.best.toFixed(6)} ${(result.steps / result.best).toFixed(1)}`);
  await context.close();
})().catch((e) => { console.error(e); process.exit(1); });
