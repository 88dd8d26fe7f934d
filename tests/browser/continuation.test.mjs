// continuation.test.mjs — opens the page `attrib explain MODEL TEXT --generate 8
// --html` writes (attribution of a whole answer: one matrix row per answer
// token) in Debian's Chromium driven by playwright-core, and checks what a
// person would see:
//
//  - no console or page errors, no request but the file itself, no dialog;
//  - one table row per answer token and one column per source position,
//    both counted from the --json document of the same run (not from the page);
//  - every cell's data-s is the exact score of the JSON matrix, and its colour
//    follows the documented scale with the row's largest |score| as scale;
//  - hovering a cell shows the tooltip naming the source (position, text,
//    role), the target (step, position, text, log-probability) and the score;
//    keyboard focus does the same;
//  - hovering a row paints the text: that step's sources coloured, the tokens
//    from the answer token on left unpainted;
//  - markup in the prompt stays text.
//
// The screenshot goes to $ATTRIB_BUILD/browser/continuation.png (and to
// $ATTRIB_SCREENSHOT_DIR, relative to the repository root, e.g. docs/img).
// Exit status: 0 all passed, 1 a check failed, 77 skipped. Env: ATTRIB_BIN,
// ATTRIB_SHARED, ATTRIB_BUILD, ATTRIB_CHROMIUM.
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
function run(args) { return execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 28 }); }

// The documented scale: t = min(1, |s| / scale), fade = round(255 (1 - t)).
function expectedColour(s, scale) {
  const t = scale > 0 ? Math.min(1, Math.abs(s) / scale) : 0;
  const f = Math.round(255 * (1 - t));
  return s >= 0 ? `rgb(255, ${f}, ${f})` : `rgb(${f}, ${f}, 255)`;
}

async function open(browser, file) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const seen = { errors: [], requests: [], dialogs: [] };
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  seen.url = pathToFileURL(file).href;
  await page.goto(seen.url, { waitUntil: 'load' });
  return { page, seen };
}

function checkClean(name, seen) {
  check(`${name}: no console or page errors`, seen.errors.length === 0, seen.errors.join(' | '));
  const other = seen.requests.filter((u) => u !== seen.url && !u.startsWith('data:'));
  check(`${name}: no request but the file itself`, other.length === 0, other.join(' '));
  check(`${name}: no dialog opened`, seen.dialogs.length === 0, seen.dialogs.join(' | '));
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const text = 'Once upon a time there was a little girl named';
  const html = join(outDir, 'continuation.html');
  const doc = JSON.parse(run(['explain', model, text, '--generate', '8', '--html', html, '--json']));
  const G = doc.steps.length, P = doc.n_prompt;
  const cols = doc.matrix[0].map((_, i) => i).filter((i) => doc.matrix.some((r) => r[i] !== null));
  check(`--json: 8 answer steps after a ${P}-token prompt`, G === 8 && doc.tokens.length === P + G, `${G} ${doc.tokens.length}`);
  const { page, seen } = await open(browser, html);
  checkClean('continuation page', seen);

  const table = 'table.mx:not([data-w])';
  const nRows = await page.$$eval(`${table} tbody tr`, (r) => r.length);
  check(`one table row per answer token (${G})`, nRows === G, nRows);
  const heads = await page.$$eval(`${table} thead th.c`, (h) => h.map((x) => x.textContent));
  check(`one column per source position (${cols.length}: the prompt without BOS, the answer but its last token)`,
    heads.length === cols.length && heads.join('') === cols.map((i) => doc.tokens[i].text).join(''), heads.join('|'));
  const rowLabels = await page.$$eval(`${table} tbody th`, (h) => h.map((x) => x.textContent));
  check('rows are labelled by the answer tokens', rowLabels.join('') === doc.steps.map((s) => s.text).join(''), rowLabels.join('|'));

  // every cell: its exact score and its colour under the row's scale
  const cells = await page.$$eval(`${table} tbody tr`, (rs) => rs.map((r) => Array.from(r.querySelectorAll('td.s')).map((c) => ({
    i: Number(c.dataset.i), s: Number(c.dataset.s), bg: getComputedStyle(c).backgroundColor }))));
  const bad = [];
  let nCells = 0;
  cells.forEach((row, j) => {
    const want = doc.matrix[j].map((v, i) => [i, v]).filter(([, v]) => v !== null);
    const scale = Math.max(...want.map(([, v]) => Math.abs(v)));
    if (row.length !== want.length) bad.push(`row ${j}: ${row.length} cells for ${want.length} sources`);
    for (const c of row) {
      nCells++;
      if (c.s !== doc.matrix[j][c.i]) bad.push(`(${j},${c.i}) ${c.s} vs ${doc.matrix[j][c.i]}`);
      if (c.bg !== expectedColour(c.s, scale)) bad.push(`(${j},${c.i}) colour ${c.bg}`);
    }
  });
  check(`${nCells} cells hold the JSON matrix's exact scores, coloured by the per-row scale`, bad.length === 0, bad.slice(0, 5).join('; '));

  // hovering a row paints its sources in the text, and nothing from its own token on
  const j = 3, i = 12; // step 3 (the 4th answer token), source position 12 (a prompt token)
  await page.hover(`${table} tbody tr[data-j="${j}"] th`);
  const painted = await page.$$eval('#txt span', (s) => s.map((x) => x.style.background !== ''));
  const expectPainted = doc.tokens.map((_, k) => doc.matrix[j][k] !== null && doc.matrix[j][k] !== undefined);
  check('hovering a row paints exactly its sources in the text', JSON.stringify(painted) === JSON.stringify(expectPainted),
    painted.map(Number).join(''));
  const caption = await page.$eval('#row', (r) => r.textContent);
  check('the caption names the step shown', caption.includes(`step ${j}`), caption);

  // hover a cell: the tooltip names source, target and score
  await page.hover(`${table} tbody tr[data-j="${j}"] td.s[data-i="${i}"]`);
  const tip = await page.$eval('#tip', (t) => ({ text: t.textContent, hidden: t.hidden }));
  const st = doc.steps[j];
  const want = [`source  position ${i}  \u201c${doc.tokens[i].text}\u201d  (prompt)`,
    `target  step ${j}: position ${st.position}  \u201c${st.text}\u201d`, `log p ${st.f}`, `score   ${doc.matrix[j][i]}`];
  check('hovering a cell shows source, target and score', !tip.hidden && want.every((w) => tip.text.includes(w)), tip.text);
  await page.screenshot({ path: join(outDir, 'continuation.png') });
  if (shotDir) {
    mkdirSync(shotDir, { recursive: true });
    copyFileSync(join(outDir, 'continuation.png'), join(shotDir, 'continuation.png'));
  }

  // keyboard: focus reaches a cell and shows its tooltip
  await page.focus(`${table} tbody tr[data-j="0"] td.s`);
  const ftip = await page.$eval('#tip', (t) => ({ text: t.textContent, hidden: t.hidden }));
  check('keyboard focus on a cell shows its tooltip', !ftip.hidden && ftip.text.includes('target  step 0:'), ftip.text);

  await page.close();

  // markup in the prompt is text, never markup
  const html2 = join(outDir, 'continuation-markup.html');
  run(['explain', model, 'She said <img src=x onerror=alert(1)> and <script>alert(2)</script> then', '--generate', '2', '-m', 'gxi',
    '--html', html2]);
  const r2 = await open(browser, html2);
  checkClean('page of a prompt with markup', r2.seen);
  const counts = await r2.page.evaluate(() => ({ img: document.querySelectorAll('img').length,
    script: document.querySelectorAll('script').length, text: document.getElementById('txt').textContent }));
  check('markup in the prompt stays text (no img, only the page\'s two scripts)',
    counts.img === 0 && counts.script === 2 && counts.text.includes('<img src=x onerror=alert(1)>'), JSON.stringify(counts));
  await r2.page.close();
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
