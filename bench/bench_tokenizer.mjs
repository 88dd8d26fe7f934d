// bench_tokenizer.mjs — the transformers.js peer of bench_tokenizer.c: the
// same text, the same tokenizer, best of REPEATS, one JSON line out.
// usage: node bench_tokenizer.mjs TOKENIZER TEXT_FILE [REPEATS]
// TOKENIZER is a Hugging Face directory or a .gguf (converted as the golden
// generator does). Needs `npm install` in tests/golden (for the package).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const golden = path.join(here, '..', 'tests', 'golden');
const require = createRequire(path.join(golden, 'package.json'));
const tjs = await import(require.resolve('@huggingface/transformers'));
const { env, AutoTokenizer } = tjs.AutoTokenizer ? tjs : tjs.default; // CommonJS build under import()
const { readGguf, spmTokenizerJson } = await import(path.join(golden, 'generate.mjs'));

const [src, textFile, repsArg] = process.argv.slice(2);
const reps = Math.max(1, parseInt(repsArg ?? '5', 10));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'attrib-bench-'));
const dir = path.join(work, 'tok');
fs.mkdirSync(dir);
if (src.endsWith('.gguf')) {
    const { json, config } = spmTokenizerJson(readGguf(src));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
} else {
    fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const cfg = path.join(src, 'tokenizer_config.json');
    const config = fs.existsSync(cfg) ? JSON.parse(fs.readFileSync(cfg, 'utf8')) : { tokenizer_class: 'GPT2Tokenizer' };
    config.legacy = true;
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
}
env.allowRemoteModels = false;
env.localModelPath = work + path.sep;
const tok = await AutoTokenizer.from_pretrained('tok', { local_files_only: true, legacy: true });
const text = fs.readFileSync(textFile, 'utf8');
let best = Infinity, n = 0;
for (let r = 0; r < reps; r++) {
    tok.model.clear_cache?.(); // no head start from a warm BPE word cache
    const t0 = process.hrtime.bigint();
    n = tok.encode(text).length;
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (dt < best) best = dt;
}
fs.rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ tokens: n, bytes: Buffer.byteLength(text), seconds: best, tokens_per_s: n / best }));
