// screenshot.mjs REPORT.html OUT_DIR [PREFIX] — screenshots of a real
// comparison report (the summary, and the prompt list) in Debian's Chromium
// through playwright-core, for docs/img. Prints the file size, the load time
// and any console error or network request (there should be none).
import { chromium } from 'playwright-core';
import { statSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [html, outDir, prefix = 'xstest'] = process.argv.slice(2);
if (!html || !outDir) {
  console.error('usage: node screenshot.mjs REPORT.html OUT_DIR [PREFIX]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.ATTRIB_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const errors = [], requests = [];
page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
const t0 = Date.now();
await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'load' });
const ms = Date.now() - t0;
await page.screenshot({ path: join(outDir, `${prefix}-summary.png`) });
await page.evaluate(() => document.getElementById('prompts')?.scrollIntoView());
await page.screenshot({ path: join(outDir, `${prefix}-prompts.png`) });
const rows = await page.$$eval('#list > .p', (e) => e.length);
console.log(`${html}: ${(statSync(html).size / 1048576).toFixed(2)} MB, ${rows} prompt rows, loaded in ${ms} ms, ` +
  `${errors.length} console errors, ${requests.length} network requests`);
for (const e of errors) console.log('  error:', e);
await browser.close();
process.exit(errors.length || requests.length ? 1 : 0);
