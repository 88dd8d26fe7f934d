// generate.mjs — golden tokenisations for attrib's tokenizer tests, made by
// an independent implementation: transformers.js (@huggingface/transformers,
// pinned in package.json), run fully offline on the shared tokenizers.
//
// Usage (from this directory):
//   npm install --ignore-scripts
//   node generate.mjs [SHARED_DIR]        # default ../../../shared
//
// For Hugging Face directories the shipped tokenizer.json is used as is.
// GGUF files carry no tokenizer.json, so one is written here from the GGUF
// metadata the way Hugging Face's SentencePiece converter does it (BPE with
// merges ordered by piece score, byte fallback, Prepend ▁ + Replace " " → ▁
// normaliser, BOS template). The GGUF parser below is this script's own.
// Output: one <name>.json per tokenizer with every test string, the ids the
// reference gives (special tokens added and recognised, the reference's
// default), and the vocabulary tokens that do NOT decode and re-encode to
// themselves in the reference, with what the reference gives for them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { env, AutoTokenizer } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(process.argv[2] ?? path.join(here, '..', '..', '..', 'shared'));
let work = null;

// ------------------------------------------------------------------ GGUF
export function readGguf(file) {
    const buf = fs.readFileSync(file);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = 0;
    const u32 = () => { const v = dv.getUint32(o, true); o += 4; return v; };
    const u64 = () => { const v = dv.getBigUint64(o, true); o += 8; return Number(v); };
    const str = () => { const n = u64(); const s = buf.subarray(o, o + n).toString('utf8'); o += n; return s; };
    const val = (t) => {
        switch (t) {
            case 0: return dv.getUint8(o++);
            case 1: return dv.getInt8(o++);
            case 2: { const v = dv.getUint16(o, true); o += 2; return v; }
            case 3: { const v = dv.getInt16(o, true); o += 2; return v; }
            case 4: return u32();
            case 5: { const v = dv.getInt32(o, true); o += 4; return v; }
            case 6: { const v = dv.getFloat32(o, true); o += 4; return v; }
            case 7: return dv.getUint8(o++) !== 0;
            case 8: return str();
            case 9: { const et = u32(); const n = u64(); const a = new Array(n); for (let i = 0; i < n; i++) a[i] = val(et); return a; }
            case 10: return u64();
            case 11: { const v = dv.getBigInt64(o, true); o += 8; return Number(v); }
            case 12: { const v = dv.getFloat64(o, true); o += 8; return v; }
            default: throw new Error(`${file}: unknown GGUF value type ${t}`);
        }
    };
    if (buf.subarray(0, 4).toString('latin1') !== 'GGUF') throw new Error(`${file}: not GGUF`);
    o = 4; u32(); u64(); const nkv = u64();
    const kv = {};
    for (let i = 0; i < nkv; i++) { const k = str(); kv[k] = val(u32()); }
    return kv;
}

// Hugging Face's SentencePiece -> BPE conversion, from the GGUF vocabulary.
export function spmTokenizerJson(kv) {
    const tokens = kv['tokenizer.ggml.tokens'];
    const scores = kv['tokenizer.ggml.scores'];
    const types = kv['tokenizer.ggml.token_type'];
    const vocab = Object.create(null); // no prototype: pieces such as "toString" are ordinary keys
    // A repeated piece maps to its last id, as a Python dict built in id order
    // (Hugging Face's converter) and llama.cpp's token_to_id both do.
    tokens.forEach((t, i) => {
        if (t in vocab) console.log(`  note: piece ${JSON.stringify(t)} repeated at ids ${vocab[t]} and ${i}`);
        vocab[t] = i;
    });
    const merges = [];
    tokens.forEach((piece, id) => {
        const cps = Array.from(piece);
        const local = [];
        for (let k = 1; k < cps.length; k++) {
            const l = cps.slice(0, k).join(''), r = cps.slice(k).join('');
            if (l in vocab && r in vocab) local.push([l, r, scores[id]]);
        }
        local.sort((a, b) => (vocab[a[0]] - vocab[b[0]]) || (vocab[a[1]] - vocab[b[1]]));
        merges.push(...local);
    });
    // Stable sort by score, highest first (Array.prototype.sort is stable).
    merges.sort((a, b) => b[2] - a[2]);
    const bos = kv['tokenizer.ggml.bos_token_id'] ?? 1;
    const eos = kv['tokenizer.ggml.eos_token_id'] ?? 2;
    const unk = kv['tokenizer.ggml.unknown_token_id'] ?? 0;
    const addBos = kv['tokenizer.ggml.add_bos_token'] ?? true;
    const addEos = kv['tokenizer.ggml.add_eos_token'] ?? false;
    const added = [];
    tokens.forEach((t, i) => {
        if (types[i] === 2 || types[i] === 3 || types[i] === 4)
            added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] !== 4 });
    });
    const single = [];
    const special_tokens = {};
    if (addBos) { single.push({ SpecialToken: { id: tokens[bos], type_id: 0 } }); special_tokens[tokens[bos]] = { id: tokens[bos], ids: [bos], tokens: [tokens[bos]] }; }
    single.push({ Sequence: { id: 'A', type_id: 0 } });
    if (addEos) { single.push({ SpecialToken: { id: tokens[eos], type_id: 0 } }); special_tokens[tokens[eos]] = { id: tokens[eos], ids: [eos], tokens: [tokens[eos]] }; }
    const json = {
        version: '1.0', truncation: null, padding: null, added_tokens: added,
        normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
        pre_tokenizer: null,
        post_processor: { type: 'TemplateProcessing', single, pair: single, special_tokens },
        decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
        model: { type: 'BPE', dropout: null, unk_token: tokens[unk], continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: merges.map(m => [m[0], m[1]]) },
    };
    const config = {
        tokenizer_class: 'LlamaTokenizer', legacy: true, clean_up_tokenization_spaces: false,
        bos_token: tokens[bos], eos_token: tokens[eos], unk_token: tokens[unk], add_bos_token: addBos, add_eos_token: addEos,
    };
    return { json, config };
}

// ------------------------------------------------------------ test strings
function parseCsv(text) {
    const rows = [];
    let row = [], field = '', q = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (q) {
            if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else q = false; }
            else field += c;
        } else if (c === '"') q = true;
        else if (c === ',') { row.push(field); field = ''; }
        else if (c === '\n' || c === '\r') {
            if (c === '\r' && text[i + 1] === '\n') i++;
            row.push(field); rows.push(row); row = []; field = '';
        } else field += c;
    }
    if (field.length || row.length) { row.push(field); rows.push(row); }
    return rows;
}

const EDGE = [
    '', ' ', '  ', '   ', '   leading spaces', 'trailing spaces   ', 'multiple    inner     spaces',
    '\n', '\n\n', 'line one\nline two', 'para\n\n\npara', '\tTab\tseparated\t', 'windows\r\nline\r\n', ' \t \n mixed \n\t ',
    '  \n  \n', 'x  ', '  x', 'a b  c   d    e',
    '0', '7', '42', '123', '1234', '12345', '1234567890', '12345678901234567890123', '3.14159', '1,000,000', '$100.00',
    '0x1F', '2024-01-31', 'v1.2.3', 'a1b2c3', '100%', '-5', '1e10',
    "I'm", "you're", "he'll", "we've", "she'd", "it's", "DON'T", "I'M", "can't won't", "'s 's's", " 's", "a'sb", "rock 'n' roll",
    '!!!', '???', '...', '?!?!', '---', '***', '(parens) [brackets] {braces}', 'a.b.c', 'email@example.com',
    'https://example.com/path?q=1&r=2#frag', '~`^|\\', '#include <stdio.h>', 'x = y + z * 2;', 'def f(x):\n    return x ** 2\n',
    'café', 'naïve résumé', 'Ünïcödé', 'e\u0301', 'Cafe\u0301', 'ﬁ ligature', 'Ａｂｃ fullwidth', 'Straße', '¿Qué tal?', 'İstanbul',
    'ǅ', 'ŉ', 'Ⅻ', '½', '²³', '١٢٣', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '日本語', '你好，世界', '東京タワー', '한국어', 'Привет, мир', 'مرحبا بالعالم', 'שלום', 'ελληνικά', 'हिन्दी', 'ไทย',
    '😀', '👋🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', 'a😀b', '❤️', '🇫🇷', '🤖 robots', '™ ® ©',
    '\u00a0nbsp', 'zero\u200bwidth', 'line\u2028sep', '\uFEFFbom', 'soft\u00adhyphen', '\u3000ideographic space',
    '▁', '▁▁x', 'x▁y', ' ▁ ',
    '<s>', '</s>', '<unk>', '<s>Hello', 'Hello</s>', '<s> Hello', 'Hello <s> world', '<|im_start|>user\nhi<|im_end|>',
    '<|endoftext|>', 'end<|endoftext|>start', '<|start_story|>Once upon a time', '<|end_story|>', '<0x41>', '<<s>>', '< s >',
    '<|im_start|>', '<|im_start|> spaced <|im_end|> ', '<s><s>',
    'a\u0000b', '\u0001\u0002\u0003', '\u007f', '\u0085next line',
    'a'.repeat(300), 'ab'.repeat(150), ' '.repeat(40) + 'x', '9'.repeat(64),
    'The quick brown fox jumps over the lazy dog. '.repeat(5),
    'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
    'HELLO WORLD', 'hello world', 'Hello World', 'hElLo WoRlD',
];

function loadStrings() {
    const rows = parseCsv(fs.readFileSync(path.join(shared, 'data', 'xstest', 'xstest_prompts.csv'), 'utf8'));
    const header = rows[0];
    const col = header.indexOf('prompt');
    const prompts = rows.slice(1).filter(r => r.length === header.length).map(r => r[col]);
    if (prompts.length !== 450) throw new Error(`expected 450 XSTest prompts, got ${prompts.length}`);
    return { prompts, edge: EDGE };
}

// ------------------------------------------------------------- tokenizers
function smollmVariant(base, pre, ignoreMerges) {
    const j = structuredClone(base);
    j.pre_tokenizer = pre;
    j.model.ignore_merges = ignoreMerges;
    return j;
}

const LLAMA3_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function specs() {
    const out = [];
    for (const [name, file] of [['stories260K', 'models/stories260K/stories260K-f32.gguf'],
                                ['llama-2-tiny-random', 'models/llama-2-tiny-random/llama-2-tiny-random.gguf']]) {
        const { json, config } = spmTokenizerJson(readGguf(path.join(shared, file)));
        out.push({ name, source: file, kind: 'gguf', json, config, note: 'tokenizer.json built by generate.mjs from the GGUF metadata' });
    }
    {
        const dir = path.join(shared, 'models', 'TinyStories-656K');
        out.push({ name: 'TinyStories-656K', source: 'models/TinyStories-656K/tokenizer.json', kind: 'json',
                   json: JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
                   config: JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')),
                   // The Python fast tokenizer applies tokenizer.json as written; transformers.js
                   // would replace the normaliser when legacy=false, so it is run with legacy=true.
                   legacy: true, note: 'shipped tokenizer.json and tokenizer_config.json (run with legacy=true)' });
    }
    const smol = JSON.parse(fs.readFileSync(path.join(shared, 'models', 'smollm2-135m-tokenizer', 'tokenizer.json'), 'utf8'));
    const smolCfg = { tokenizer_class: 'GPT2Tokenizer', clean_up_tokenization_spaces: false, bos_token: '<|im_start|>', eos_token: '<|im_end|>', unk_token: '<|endoftext|>' };
    out.push({ name: 'SmolLM2-135M', source: 'models/smollm2-135m-tokenizer/tokenizer.json', kind: 'json', json: smol, config: smolCfg,
               note: 'shipped tokenizer.json; tokenizer_config.json written by generate.mjs' });
    // Same vocabulary and merges under other pre-tokenizers: checks attrib's
    // GGUF gpt2 pre-tokenizer table (tokenizer.ggml.pre) against the
    // reference's own handling of the equivalent tokenizer.json.
    const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
    out.push({ name: 'SmolLM2-vocab-pre-gpt2', ggml_pre: 'gpt2', kind: 'synthetic', json: smollmVariant(smol, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, false), config: smolCfg,
               note: 'SmolLM2 vocabulary, GPT-2 ByteLevel pre-tokenizer' });
    out.push({ name: 'SmolLM2-vocab-pre-llama-bpe', ggml_pre: 'llama-bpe', kind: 'synthetic', json: smollmVariant(smol, { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_RE }, behavior: 'Isolated', invert: false }, bl] }, true), config: smolCfg,
               note: 'SmolLM2 vocabulary, Llama-3 Split regex + ByteLevel, ignore_merges' });
    out.push({ name: 'SmolLM2-vocab-pre-qwen2', ggml_pre: 'qwen2', kind: 'synthetic', json: smollmVariant(smol, { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_RE }, behavior: 'Isolated', invert: false }, bl] }, false), config: smolCfg,
               note: 'SmolLM2 vocabulary, Qwen2 Split regex + ByteLevel' });
    return out;
}

const sameIds = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function main() {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'attrib-golden-'));
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = work + path.sep;
    const { prompts, edge } = loadStrings();
    const texts = [...prompts, ...edge];
    const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8'));
    for (const s of specs()) {
        const dir = path.join(work, s.name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(s.json));
        fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(s.config));
        const opts = { local_files_only: true };
        if (s.legacy !== undefined) opts.legacy = s.legacy;
        const tok = await AutoTokenizer.from_pretrained(s.name, opts);
        // lossless: the reference's own decode (special tokens skipped) gives the text back.
        const cases = texts.map(text => {
            const ids = Array.from(tok.encode(text));
            const lossless = ids.length === 0 ? text === "" : tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) === text;
            return { text, ids, lossless };
        });
        const n = Math.max(...Object.values(s.json.model.vocab).map(id => id + 1), ...s.json.added_tokens.map(a => a.id + 1));
        const nonRoundtrip = [];
        let roundtrip = 0;
        for (let id = 0; id < n; id++) {
            const dec = tok.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
            const enc = Array.from(tok.encode(dec, { add_special_tokens: false }));
            if (sameIds(enc, [id])) roundtrip++;
            else nonRoundtrip.push([id, dec, enc]);
        }
        const out = {
            tokenizer: s.name, source: s.source ?? null, kind: s.kind, ggml_pre: s.ggml_pre ?? null, note: s.note,
            reference: `${pkg.name} ${pkg.version}`,
            encode_options: 'tokenizer.encode(text): special tokens added and special-token text recognised',
            n_prompts: prompts.length, n_edge: edge.length, cases,
            vocab: { n, roundtrip, non_roundtrip: nonRoundtrip },
        };
        const file = path.join(here, `${s.name}.json`);
        fs.writeFileSync(file, JSON.stringify(out) + '\n');
        console.log(`${s.name}: ${cases.length} strings (${cases.filter(c => c.lossless).length} lossless), ${n} tokens (${roundtrip} round-trip in the reference) -> ${path.basename(file)}`);
    }
    fs.rmSync(work, { recursive: true, force: true });
}

// Run only as a script: bench/bench_tokenizer.mjs imports the GGUF helpers.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href)
    main().catch(e => { console.error(e); process.exit(1); });
