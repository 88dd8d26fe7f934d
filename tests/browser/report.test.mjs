// report.test.mjs — opens attrib's HTML reports in a real browser (Debian's
// Chromium driven by playwright-core) and checks what a person would see:
//
//  1. the single-prompt report that `attrib explain ... --method
//     ig,occlusion,saliency --html` writes for the shared stories260K model;
//  2. the data-set report that `attrib report fixture.json --html` writes
//     for a synthetic 450-prompt comparison (make_fixture.mjs).
//
// Checks: no console or page errors, no request but the file itself, no
// dialog (the fixture carries <script> and onerror= in its data), the
// number of token spans and prompt rows (expected values computed here from
// `attrib tokenize` and from the fixture, not from the report), colours
// against the documented scale, the tooltip on keyboard focus and on hover,
// sort and filter controls, file size < 10 MB, and the CSV's row count and
// formula defusing. Screenshots go to $ATTRIB_BUILD/browser (and to
// $ATTRIB_SCREENSHOT_DIR when set, e.g. docs/img, relative to the repository
// root). Prints load times.
//
// Exit status: 0 all passed, 1 a check failed, 77 skipped (no Chromium, no
// playwright-core). Env: ATTRIB_BIN, ATTRIB_SHARED, ATTRIB_BUILD,
// ATTRIB_CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.ATTRIB_CHROMIUM || '/usr/bin/chromium';
const bin = process.env.ATTRIB_BIN;
const shared = process.env.ATTRIB_SHARED || resolve(here, '../../../shared');
const outDir = join(process.env.ATTRIB_BUILD || join(here, 'out'), 'browser');
const shotDir = process.env.ATTRIB_SCREENSHOT_DIR && resolve(here, '../..', process.env.ATTRIB_SCREENSHOT_DIR); // relative: to the repository root

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(77);
}
if (!existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath} (apt-get install chromium)`);
if (!bin || !existsSync(bin)) skip('ATTRIB_BIN does not name the attrib binary');
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
function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
function run(args) { return execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 28 }); }

async function screenshot(page, name) {
  const file = join(outDir, name);
  await page.screenshot({ path: file });
  if (shotDir) {
    mkdirSync(shotDir, { recursive: true });
    copyFileSync(file, join(shotDir, name));
  }
}

// Opens FILE and records everything that must not happen.
async function open(browser, file) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const seen = { errors: [], requests: [], dialogs: [] };
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const url = pathToFileURL(file).href;
  const t0 = performance.now();
  await page.goto(url, { waitUntil: 'load' });
  seen.loadMs = performance.now() - t0;
  seen.url = url;
  return { page, seen };
}

function checkClean(name, seen) {
  check(`${name}: no console or page errors`, seen.errors.length === 0, seen.errors.join(' | '));
  const other = seen.requests.filter((u) => u !== seen.url && !u.startsWith('data:'));
  check(`${name}: no request but the file itself`, other.length === 0 && seen.requests.includes(seen.url), other.join(' '));
  check(`${name}: no dialog opened`, seen.dialogs.length === 0, seen.dialogs.join(' | '));
}

// The documented scale: t = min(1, |s| / scale), fade = round(255 (1 - t)).
function expectedColour(s, scale) {
  const t = scale > 0 ? Math.min(1, Math.abs(s) / scale) : 0;
  const f = Math.round(255 * (1 - t));
  return s >= 0 ? `rgb(255, ${f}, ${f})` : `rgb(${f}, ${f}, 255)`;
}

// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      cell += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ',') { row.push(cell); cell = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i += 2; continue; }
    cell += c; i++;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

const HEADER = ['prompt_index', 'prompt_id', 'method', 'position', 'token_id', 'piece', 'begin', 'end', 'score', 'fixed'];

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  // ---- 1. single prompt, real model ----------------------------------------
  const model = join(shared, 'models/stories260K/stories260K-f32.gguf');
  const text = 'How can I kill a Python process?';
  if (!existsSync(model)) {
    console.log(`skip single-prompt report: no model at ${model}`);
  } else {
    const html = join(outDir, 'explain.html'), csv = join(outDir, 'explain.csv');
    const tokens = JSON.parse(run(['tokenize', model, text, '--json'])).tokens;
    const doc = JSON.parse(run(['explain', model, text, '--method', 'ig,occlusion,saliency', '--html', html, '--csv', csv, '--json']));
    check('explain --json: a "methods" array with the three methods', same((doc.methods || []).map((m) => m.method), ['ig', 'occlusion', 'saliency']));
    check('explain --json: single-method fields kept at the top level', doc.method === 'ig' && doc.tokens.length === tokens.length);
    const { page, seen } = await open(browser, html);
    console.log(`single-prompt report: ${statSync(html).size} bytes, loaded in ${seen.loadMs.toFixed(0)} ms`);
    checkClean('explain report', seen);
    const methods = await page.$$eval('section.m h2', (hs) => hs.map((h) => h.firstChild.textContent.trim()));
    check('explain report: one section per method', same(methods, ['ig', 'occlusion', 'saliency']), methods.join(','));
    const nTok = await page.$$eval('.tk:not(.w) > span', (s) => s.length);
    check(`explain report: ${3 * tokens.length} token spans (3 x ${tokens.length} tokens)`, nTok === 3 * tokens.length, nTok);
    const words = text.split(/\s+/).filter(Boolean);
    const nWords = await page.$$eval('.tk.w > span', (s) => s.length);
    check(`explain report: ${3 * words.length} word spans`, nWords === 3 * words.length, nWords);
    const wordText = await page.$eval('.tk.w', (r) => Array.from(r.children).map((s) => s.textContent));
    check('explain report: the words are the prompt\'s words', same(wordText, words), wordText.join('|'));
    // what a token row should read: its bytes of the text, or its piece when it has none (BOS)
    const bytes = Buffer.from(text, 'utf8');
    const expectRow = tokens.map((t) => (t.end > t.begin ? bytes.subarray(t.begin, t.end).toString('utf8') : t.piece)).join('');
    const rowText = await page.$eval('.tk:not(.w)', (r) => r.textContent);
    check('explain report: the token row reads as the prompt', rowText === expectRow, JSON.stringify(rowText));
    // every painted token has the documented colour for its score and its row's scale
    const rows = await page.$$eval('.tk:not(.w)', (rs) => rs.map((r) => Array.from(r.children).map((s) => ({
      s: Number(s.dataset.s), fixed: s.classList.contains('f'), bg: getComputedStyle(s).backgroundColor }))));
    let bad = [];
    for (const row of rows) {
      const scale = Math.max(...row.filter((x) => !x.fixed).map((x) => Math.abs(x.s)));
      for (const x of row) if (!x.fixed && x.bg !== expectedColour(x.s, scale)) bad.push(`${x.s}:${x.bg}`);
      const top = row.filter((x) => !x.fixed && Math.abs(x.s) === scale)[0];
      if (!top || !['rgb(255, 0, 0)', 'rgb(0, 0, 255)'].includes(top.bg)) bad.push(`max ${top && top.bg}`);
    }
    check('explain report: colours follow the scale (largest |score| full red or blue)', bad.length === 0, bad.slice(0, 5).join(' '));
    check('explain report: the first token (BOS) is shown as fixed', rows.every((r) => r[0].fixed && r[0].s === 0));
    const scores = doc.methods[0].scores;
    const dataS = rows[0].map((x) => x.s);
    check('explain report: data-s holds the exact scores of --json', same(dataS, scores), `${dataS.slice(0, 3)} vs ${scores.slice(0, 3)}`);
    // keyboard: Tab reaches the first token and the tooltip tells id, piece, bytes, score
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const a = document.activeElement;
      return { s: a.dataset.s, tip: document.getElementById('tip').textContent, hidden: document.getElementById('tip').hidden };
    });
    const t1 = tokens[1];
    const wantTip = [`position 1`, `id ${t1.id}`, `piece \u201c${t1.piece}\u201d`, `bytes ${t1.begin}\u2013${t1.end}`, `score ${focused.s}`];
    check('explain report: keyboard focus shows the tooltip (position, id, piece, bytes, score)',
      !focused.hidden && wantTip.every((w) => focused.tip.includes(w)), focused.tip);
    await page.hover('.tk.w > span:nth-child(4)');
    const hovered = await page.evaluate(() => ({ tip: document.getElementById('tip').textContent, hidden: document.getElementById('tip').hidden }));
    check('explain report: hovering a word shows its tooltip', !hovered.hidden && hovered.tip.includes('word \u201ckill\u201d'), hovered.tip);
    await page.focus('section.m:nth-of-type(2) .tk:not(.w) > span:nth-child(7)');
    await screenshot(page, 'explain.png');
    const csvRows = parseCsv(readFileSync(csv, 'utf8'));
    check('explain CSV: header and one row per method x token', same(csvRows[0], HEADER) && csvRows.length === 1 + 3 * tokens.length, csvRows.length);
    await page.close();
  }

  // ---- 2. data-set report from the 450-prompt fixture ----------------------
  const fixture = join(outDir, 'fixture.json'), html = join(outDir, 'report.html'), csv = join(outDir, 'report.csv');
  execFileSync(process.execPath, [join(here, 'make_fixture.mjs'), fixture, '450']);
  run(['report', fixture, '--html', html, '--csv', csv]);
  const fx = JSON.parse(readFileSync(fixture, 'utf8'));
  const size = statSync(html).size;
  check(`report: ${size} bytes < 10 MB`, size < 10 * 1024 * 1024, size);
  const { page, seen } = await open(browser, html);
  console.log(`data-set report: ${fx.prompts.length} prompts, ${(size / 1048576).toFixed(2)} MB, loaded in ${seen.loadMs.toFixed(0)} ms`);
  checkClean('data-set report', seen);
  await screenshot(page, 'report-summary.png');
  const P = fx.prompts;
  const nRows = await page.$$eval('#list > .p', (e) => e.length);
  check(`report: ${P.length} prompt rows`, nRows === P.length, nRows);
  const wantSpans = P.reduce((a, p) => a + p.tokens.length * fx.methods.filter((m) => p.methods[m]).length, 0);
  const nSpans = await page.$$eval('#list .tk > span', (e) => e.length);
  check(`report: ${wantSpans} token spans (tokens x methods per prompt)`, nSpans === wantSpans, nSpans);
  const cells = await page.$$eval('#agreement rect', (e) => e.length);
  check('report: agreement matrix has methods x methods cells', cells === fx.methods.length ** 2, cells);
  const lines = await page.$$eval('svg polyline', (e) => e.length);
  check('report: deletion and insertion curves for every method and random', lines === 2 * (fx.methods.length + 1), lines);
  const bars = await page.$$eval('svg[aria-label^="comprehensiveness"] rect', (e) => e.length);
  check('report: comprehensiveness bars for every method and random', bars === fx.methods.length + 1, bars);
  const prov = await page.$eval('details', (d) => d.textContent);
  check('report: provenance shown (model sha256, data path)', prov.includes('0'.repeat(64)) && prov.includes('fixture/xstest_prompts.csv'));

  // hostile data stays text
  const inj = await page.$eval('#list > .p[data-i="0"] .tk', (r) => r.textContent);
  check('report: markup in a prompt is shown as text', inj.includes('<script>alert("x")</script>') && inj.includes('<img src=x onerror=alert(1)>'), inj);
  const counts = await page.evaluate(() => ({ img: document.querySelectorAll('img').length, script: document.querySelectorAll('script').length,
    bold: document.querySelectorAll('b').length }));
  check('report: no element injected from data (img, script)', counts.img === 0 && counts.script === 2, JSON.stringify(counts));
  const ctl = await page.$eval('#list > .p[data-i="2"] .tk', (r) => r.textContent);
  check('report: newline, tab and NUL are shown visibly', ctl.includes('\u21b5') && ctl.includes('\u21e5') && ctl.includes('\u2400'), ctl);

  // tooltip of a byte-fallback token
  const p3 = P.find((p) => p.index === 3);
  const pos = p3.tokens.findIndex((t) => t.piece === '<0xF0>');
  await page.focus(`#list > .p[data-i="3"] .tk > span:nth-child(${pos + 1})`);
  const tip = await page.$eval('#tip', (t) => ({ text: t.textContent, hidden: t.hidden }));
  check('report: tooltip of a byte token names its piece and bytes', !tip.hidden && tip.text.includes('piece \u201c<0xF0>\u201d') &&
    tip.text.includes(`bytes ${p3.tokens[pos].begin}\u2013${p3.tokens[pos].end}`), tip.text);
  await page.evaluate(() => document.activeElement.blur());

  // sort and filter, against orders computed here from the fixture
  const visible = () => page.$$eval('#list > .p:not([hidden])', (e) => e.map((x) => Number(x.dataset.i)));
  const rho = (p) => p.agreement['occlusion|saliency']?.spearman ?? null;
  const byKey = (key, dir) => (a, b) => {
    const x = key(a), y = key(b);
    if ((x === null) !== (y === null)) return x === null ? 1 : -1;
    if (x !== null && x !== y) return dir * (x - y);
    return a.index - b.index;
  };
  const order = (cmp, keep = () => true) => P.filter(keep).slice().sort(cmp).map((p) => p.index);
  const select = async (id, v) => { await page.selectOption(`#${id}`, v); };
  check('report: default order is lowest Spearman (occlusion vs saliency) first', same(await visible(), order(byKey(rho, 1))));
  await select('sort', 's');
  check('report: sort by classifier score, highest first', same(await visible(), order(byKey((p) => p.score, -1))));
  await select('sort', 'i');
  check('report: sort by index', same(await visible(), order(byKey((p) => p.index, 1))));
  await select('fl', '1');
  check('report: filter label unsafe', same(await visible(), order(byKey((p) => p.index, 1), (p) => p.label === 1)));
  const countText = await page.$eval('#count', (c) => c.textContent);
  check('report: the count says how many are shown', countText.startsWith(`${P.filter((p) => p.label === 1).length} of ${P.length}`), countText);
  await select('fp', '0');
  check('report: filter label unsafe and predicted safe (misses)',
    same(await visible(), order(byKey((p) => p.index, 1), (p) => p.label === 1 && p.predicted === 0)));
  await select('fl', 'all');
  await select('fp', 'all');
  await select('fc', '0');
  check('report: filter incorrect predictions',
    same(await visible(), order(byKey((p) => p.index, 1), (p) => p.label >= 0 && p.label !== p.predicted)));
  await select('fc', 'all');
  await select('sort', 'd');
  check('report: back to all prompts in the default order', same(await visible(), order(byKey(rho, 1))));
  await page.evaluate(() => document.getElementById('prompts').scrollIntoView());
  await screenshot(page, 'report-prompts.png');
  await page.close();

  // CSV of the same document
  const rows = parseCsv(readFileSync(csv, 'utf8'));
  check('report CSV: header and one row per prompt x method x token', same(rows[0], HEADER) && rows.length === 1 + wantSpans, rows.length);
  const idCell = rows.find((r) => r[0] === '1')?.[1];
  check('report CSV: an id that is a formula is defused with a leading quote', idCell === "'" + P[1].id, idCell);
  const nulRow = rows.find((r) => r[0] === '2' && r[5].includes('\n'));
  check('report CSV: a piece holding a newline survives quoting', !!nulRow, nulRow);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
