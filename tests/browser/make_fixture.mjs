// make_fixture.mjs — writes a synthetic "attrib.compare/1" document (the
// JSON `attrib compare` produces) with N prompts (default 450, the size of
// XSTest), for testing the data-set report without running a model.
//
//   node make_fixture.mjs OUT.json [N]
//
// Deterministic (fixed seed). Texts look like XSTest prompts; a few prompts
// carry hostile or awkward data on purpose: markup and script in the text
// and pieces, quotes, a spreadsheet formula as the id, control characters
// and NUL, multi-byte characters split into byte tokens, an unlabelled
// prompt, a prompt without agreement values and one without some methods.
// Per-prompt Spearman agreement is computed from the generated scores, so
// the report's default order (lowest agreement first) can be checked
// against an independent computation in report.test.mjs.
import { writeFileSync } from 'node:fs';

const out = process.argv[2];
const N = Number(process.argv[3] || 450);
if (!out || !(N >= 8)) {
  console.error('usage: node make_fixture.mjs OUT.json [N >= 8]');
  process.exit(2);
}

let seed = 0x5eed1234;
function rand() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function normal() { return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); }
function pick(a) { return a[Math.floor(rand() * a.length)]; }

const METHODS = ['occlusion', 'saliency', 'gxi', 'ig', 'shapley'];

const starts = ['How can I', 'How do I', 'What is the best way to', 'Where can I', 'Why should I never', 'Can you tell me how to'];
const verbs = ['kill', 'shoot', 'execute', 'terminate', 'blow up', 'crush', 'destroy', 'eliminate', 'hang', 'strangle'];
const objects = ['a Python process', 'a photo', 'my opponent in chess', 'the competition', 'a person', 'my neighbour',
  'time at the airport', 'weeds in my garden', 'a bad habit', 'the lights', 'a zombie process', 'my ex'];
const tails = ['?', ' quickly?', ' without anyone noticing?', ' in a video game?', ' for good?'];

function tokenize(text) {
  // Llama-like pieces: a word's first piece carries the space before it (▁);
  // the rest are 1-3 byte chunks; a multi-byte character not in the toy
  // vocabulary becomes one byte token per UTF-8 byte, all with the
  // character's span (as attrib's tokenizers report byte fallback).
  const enc = new TextEncoder();
  const toks = [{ id: 1, piece: '<s>', begin: 0, end: 0 }];
  let pos = 0; // byte offset
  const chars = Array.from(text);
  let i = 0, wordStart = true;
  while (i < chars.length) {
    const c = chars[i];
    const bytes = enc.encode(c);
    if (bytes.length >= 3) {
      for (const b of bytes) toks.push({ id: 3 + b, piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, begin: pos, end: pos + bytes.length });
      pos += bytes.length;
      i++;
      wordStart = false;
      continue;
    }
    let len = 1 + Math.floor(rand() * 3), piece = '', b0 = pos;
    if (c === ' ') { piece = '▁'; pos += 1; i++; len--; wordStart = true; }
    while (len > 0 && i < chars.length && chars[i] !== ' ' && enc.encode(chars[i]).length < 3) {
      piece += chars[i];
      pos += enc.encode(chars[i]).length;
      i++;
      len--;
    }
    if (wordStart && b0 === 0) piece = '▁' + piece;
    wordStart = false;
    toks.push({ id: 260 + (piece.length * 37 + piece.charCodeAt(piece.length - 1)) % 250, piece, begin: b0, end: pos });
  }
  return toks;
}

function ranks(v) {
  const idx = v.map((x, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}
function spearman(a, b) {
  if (a.length < 2) return null;
  const ra = ranks(a), rb = ranks(b), n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n, mb = rb.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) ** 2; sbb += (rb[i] - mb) ** 2; }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

function meanCI(xs) {
  const v = xs.filter((x) => x !== null && Number.isFinite(x));
  if (!v.length) return { mean: null, lo: null, hi: null, n: 0 };
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, v.length - 1));
  const h = 1.96 * sd / Math.sqrt(v.length);
  return { mean: m, lo: m - h, hi: m + h, n: v.length };
}

const X = Array.from({ length: 21 }, (_, k) => k / 20);
const prompts = [];
for (let p = 0; p < N; p++) {
  let text = `${pick(starts)} ${pick(verbs)} ${pick(objects)}${pick(tails)}`;
  let id = `v2-${p + 1}`;
  let label = p % 9 < 4 ? 1 : 0; // 4 of 9 unsafe, like XSTest's 200 / 450
  if (p === 0) text = '<script>alert("x")</script> & \'quotes\' <img src=x onerror=alert(1)> How can I kill it?';
  if (p === 1) id = '=HYPERLINK("http://example.invalid","click")';
  if (p === 2) text = 'Line one\nline\ttwo \u0000 and a NUL: how do I terminate a thread?';
  if (p === 3) text = 'How can I kill a process? 😀 — naïve café';
  if (p === 4) label = -1;
  if (p === 5) text = Array.from({ length: 40 }, () => pick(verbs) + ' ' + pick(objects)).join(', ') + '?';
  const tokens = tokenize(text);
  const n = tokens.length;
  const u = tokens.map(() => normal());
  const methods = {};
  const have = p === 6 ? METHODS.slice(0, 3) : METHODS;
  for (const m of have) {
    const mix = { occlusion: 1, saliency: 0.3, gxi: 0.7, ig: 0.9, shapley: 1 }[m];
    const scores = u.map((x, i) => {
      if (i === 0) return 0; // BOS is fixed
      const v = mix * x + (1 - mix + 0.3) * normal();
      return m === 'saliency' ? Math.abs(v) : v;
    });
    methods[m] = {
      scores, seconds: 0.01 + rand() * (m === 'shapley' ? 2 : 0.2), n_forward: n * 4, n_backward: m === 'occlusion' || m === 'shapley' ? 0 : 2,
      f_input: 2 + normal(), f_baseline: m === 'ig' ? normal() : null, completeness_delta: m === 'ig' ? 0.01 * normal() : null,
      faithfulness: { comprehensiveness_aopc: 0.5 + 0.3 * normal(), sufficiency_aopc: 0.2 + 0.3 * normal(), deletion_auc: rand(), insertion_auc: rand(),
        counts: [0, 1, n - 1], deletion: [1, 0.5, 0], insertion: [0, 0.5, 1] },
    };
  }
  const agreement = {};
  for (let a = 0; a < METHODS.length; a++)
    for (let b = a + 1; b < METHODS.length; b++) {
      const ma = methods[METHODS[a]], mb = methods[METHODS[b]];
      if (!ma || !mb) continue;
      agreement[`${METHODS[a]}|${METHODS[b]}`] = {
        spearman: spearman(ma.scores.slice(1), mb.scores.slice(1)), kendall: null, top1: rand() < 0.5 ? 1 : 0, top3: rand(), top5: rand(), sign: rand(),
      };
    }
  if (p === 7) delete agreement['occlusion|saliency'];
  const score = label === 1 ? 1.2 + 1.8 * normal() : -1.2 + 1.8 * normal();
  prompts.push({
    index: p, id, text, label, score, predicted: score > 0 ? 1 : 0, tokens, span: [1, n], methods,
    random: { comprehensiveness_aopc: 0.2, sufficiency_aopc: 0.4, deletion_auc: 0.5, insertion_auc: 0.5 },
    agreement,
  });
}

function group(ps) {
  const g = { n: ps.length, agreement: {}, faithfulness: {}, curves: { x: X } };
  for (let a = 0; a < METHODS.length; a++)
    for (let b = a + 1; b < METHODS.length; b++) {
      const key = `${METHODS[a]}|${METHODS[b]}`;
      g.agreement[key] = { spearman: meanCI(ps.map((p) => p.agreement[key]?.spearman ?? null)), kendall: meanCI([]),
        top1: meanCI(ps.map((p) => p.agreement[key]?.top1 ?? null)) };
    }
  for (const m of [...METHODS, 'random']) {
    const f = {};
    for (const k of ['comprehensiveness_aopc', 'sufficiency_aopc', 'deletion_auc', 'insertion_auc'])
      f[k] = meanCI(ps.map((p) => (m === 'random' ? p.random[k] + 0.05 * normal() : p.methods[m]?.faithfulness[k] ?? null)));
    g.faithfulness[m] = f;
    const speed = m === 'random' ? 1 : 2 + METHODS.indexOf(m);
    g.curves[m] = { deletion: X.map((x) => 3 * Math.exp(-speed * x)), insertion: X.map((x) => 3 * (1 - Math.exp(-speed * x))) };
  }
  return g;
}

const labelled = prompts.filter((p) => p.label >= 0);
const conf = [[0, 0], [0, 0]];
for (const p of labelled) conf[p.label][p.predicted]++;
let pairs = 0, wins = 0;
for (const a of labelled) if (a.label === 1) for (const b of labelled) if (b.label === 0) { pairs++; wins += a.score > b.score ? 1 : a.score === b.score ? 0.5 : 0; }

const doc = {
  schema: 'attrib.compare/1',
  provenance: {
    attrib_version: '0.1.0', commit: 'fixture', command: 'node make_fixture.mjs <fixture> & "quoted" <b>not bold</b>',
    started: '2025-01-01T00:00:00Z', wall_seconds: 123.4, peak_rss_mb: 321,
    model: { path: 'fixture/model.gguf', sha256: '0'.repeat(64), format: 'gguf', arch: 'llama', n_params: 292800, n_layer: 5, n_embd: 64,
      n_vocab: 512, tensor_types: { F32: 48 } },
    data: { path: 'fixture/xstest_prompts.csv', sha256: '1'.repeat(64), rows_in_file: N, rows_used: N, text_col: 'prompt', label_col: 'label',
      positive: 'unsafe', limit: null, sample: null, seed: 0, shard: null },
    classifier: { kind: 'probe', layer: 3, pool: 'mean', note: '<i>synthetic</i>' },
    methods: { occlusion: { window: 1, mask: 'token' }, saliency: { norm: 'l2' }, gxi: {}, ig: { steps: 32, rule: 'gl' }, shapley: { samples: 25 } },
    faithfulness: { fractions: [0.1, 0.2, 0.5], curve_points: 20, random_orders: 1 },
    machine: { cpu: 'fixture CPU', threads: 2, blas: 'openblas', backend: 'cpu' },
  },
  methods: METHODS,
  pairs: METHODS.flatMap((a, i) => METHODS.slice(i + 1).map((b) => [a, b])),
  prompts,
  summary: {
    classifier: { n: labelled.length, accuracy: (conf[0][0] + conf[1][1]) / labelled.length, auroc: wins / pairs, confusion: conf },
    groups: {
      all: group(prompts),
      'label=0': group(prompts.filter((p) => p.label === 0)),
      'label=1': group(prompts.filter((p) => p.label === 1)),
      'predicted=0': group(prompts.filter((p) => p.predicted === 0)),
      'predicted=1': group(prompts.filter((p) => p.predicted === 1)),
    },
    cost: Object.fromEntries(METHODS.map((m, i) => [m, { median_seconds: 0.05 * (i + 1), total_seconds: 0.05 * (i + 1) * N,
      n_forward: 1000 * (i + 1), n_backward: i, model_evaluations: 1000 * (i + 1) }])),
    peak_rss_mb: 321,
  },
};
writeFileSync(out, JSON.stringify(doc));
