// Headless Debian chromium (playwright-core, never a downloaded browser)
// loads the demo page, merges, routes a prompt, and checks that the merge
// table, the answer and the heatmap appear; saves a screenshot.
// usage: node browser_test.cjs URL SCREENSHOT_DIR (NODE_PATH: web/node_modules)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');
const { chromium } = require('playwright-core');

const [url, shotDir] = process.argv.slice(2);

(async () => {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libra-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('status').textContent),
                             null, { timeout: 60000 });
  assert.strictEqual(await page.textContent('#status'), 'ready', await page.textContent('#error'));
  assert.ok((await page.textContent('#library')).includes('6 experts'));
  assert.strictEqual(await page.locator('#similarity tr').count(), 7);

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
  const rows = await page.locator('#heatmap tr').count();
  assert.strictEqual(rows, 1 + 5 + 8 - 1, 'heatmap rows: header + prompt + generated - 1');
  assert.strictEqual(await page.locator('#heatmap td.cell').count(), (5 + 8 - 1) * 4);
  console.log(await page.textContent('#speed'));
  fs.mkdirSync(shotDir, { recursive: true });
  await page.screenshot({ path: path.join(shotDir, 'web_demo.png'), fullPage: true });
  assert.deepStrictEqual(errors, []);
  await context.close();
  console.log('PASS');
})().catch((e) => {
  console.error('FAIL:', e && e.stack ? e.stack : e);
  process.exit(1);
});
