// attention.test.mjs — opens the page `attrib attention MODEL TEXT --html`
// writes in a real browser (Debian's Chromium through playwright-core) and
// checks what a person would see: no console or page error, no request but
// the file itself, one thumbnail per block x head (+ one rollout thumbnail
// per block), and that hovering a thumbnail and clicking another show that
// head's T x T table with the tokens as labels and the weights of the JSON
// output (`attrib attention --json`, a separate run) in the cells' titles.
// A screenshot goes to $ATTRIB_BUILD/browser/attention.png (and to
// $ATTRIB_SCREENSHOT_DIR when set, e.g. docs/img, relative to the repository
// root).
//
// Exit status: 0 all passed, 1 a check failed, 77 skipped. Env: ATTRIB_BIN,
// ATTRIB_SHARED, ATTRIB_BUILD, ATTRIB_CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.ATTRIB_CHROMIUM || '/usr/bin/chromium';
const bin = process.env.ATTRIB_BIN;
const shared = process.env.ATTRIB_SHARED || resolve(here, '../../../shared');
const outDir = join(process.env.ATTRIB_BUILD || join(here, 'out'), 'browser');
const shotDir = process.env.ATTRIB_SCREENSHOT_DIR && resolve(here, '../..', process.env.ATTRIB_SCREENSHOT_DIR);
const model = join(shared, 'models/stories260K/stories260K-f32.gguf');

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(77);
}
if (!existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath}`);
if (!bin || !existsSync(bin)) skip('ATTRIB_BIN does not name the attrib binary');
if (!existsSync(model)) skip(`no model at ${model}`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  skip(`playwright-core is not installed (npm ci in tests/browser): ${e.message}`);
}
mkdirSync(outDir, { recursive: true });

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail !== undefined ? ` -- ${detail}` : ''}`);
}

const text = 'Once upon a time there was a little girl named';
const html = join(outDir, 'attention.html');
execFileSync(bin, ['attention', model, text, '--rollout', '--html', html], { encoding: 'utf8' });
const doc = JSON.parse(execFileSync(bin, ['attention', model, text, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 }));
const [L, H, T] = doc.shape;
const pieces = doc.tokens.map((t) => t.piece);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [], requests = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(html).href;
  await page.goto(url, { waitUntil: 'load' });
  check('no console or page errors', errors.length === 0, errors.join(' | '));
  check('no request but the file itself', requests.every((u) => u === url || u.startsWith('data:')), requests.join(' '));

  const heads = await page.$$eval('#grid button[data-h]', (b) => b.length);
  check(`${L * H} head thumbnails (${L} blocks x ${H} heads)`, heads === L * H, heads);
  const rolls = await page.$$eval('#grid button:not([data-h])', (b) => b.length);
  check(`${L} rollout thumbnails`, rolls === L, rolls);

  // the table of one head: labels, and the weights of --json in the titles
  async function table() {
    return page.$$eval('#dmap table.mat tr', (rows) => rows.map((r) => [...r.children].map((c) => ({
      tag: c.tagName, text: c.textContent, title: c.title || '' }))));
  }
  async function shows(l, h, how) {
    const rows = await table();
    const title = await page.$eval('#dtitle', (e) => e.textContent);
    check(`${how} block ${l} head ${h}: the title names it`, title === `block ${l}, head ${h}`, title);
    check(`${how}: ${T + 1} rows and columns with the token labels`, rows.length === T + 1 &&
      rows[0].length === T + 1 && rows.slice(1).every((r, i) => r[0].text === `${i} ${pieces[i]}`) &&
      rows[0].slice(1).every((c, j) => c.text === `${j} ${pieces[j]}`), JSON.stringify(rows[0]).slice(0, 300));
    let worst = 0, upper = true;
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++) {
        const c = rows[i + 1][j + 1];
        if (j > i) { upper &&= c.title === '' && c.text === ''; continue; }
        const p = Number(c.title.split(': ').pop());
        worst = Math.max(worst, Math.abs(p - doc.attention[l][h][i][j]));
      }
    check(`${how}: the cells hold the weights of --json (worst |d| ${worst.toExponential(1)})`, worst < 1e-4, worst);
    check(`${how}: nothing above the diagonal (causal)`, upper);
  }
  await page.hover('#grid button[data-l="3"][data-h="5"]');
  await shows(3, 5, 'hover');
  await page.click('#grid button[data-l="4"][data-h="0"]');
  await page.mouse.move(5, 5); // leaving the grid goes back to the clicked head
  await shows(4, 0, 'click');
  const file = join(outDir, 'attention.png');
  await page.screenshot({ path: file });
  if (shotDir) {
    mkdirSync(shotDir, { recursive: true });
    copyFileSync(file, join(shotDir, 'attention.png'));
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
