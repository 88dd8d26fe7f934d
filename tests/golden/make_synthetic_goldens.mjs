// make_synthetic_goldens.mjs — goldens for SMALL SYNTHETIC tokenizers that
// exercise the parts of attrib's tokenizer.json / GGUF loaders the shipped
// tokenizers do not use (Unicode normalisers, Lowercase, Digits, Split with a
// string pattern or Removed behaviour, Metaspace schemes, ByteLevel
// add_prefix_space, post-processor sequences, array-format merges, lstrip /
// rstrip added tokens, fuse_unk, the llama.cpp "default" gpt2 pre-tokenizer,
// SentencePiece GGUF without a space prefix...). The expected ids, decoded
// texts and special-token ids come from an independent implementation,
// transformers.js (pinned in package.json), run offline.
//
// Usage (from this directory, after `npm ci`):
//   node make_synthetic_goldens.mjs        # writes synthetic-tokenizers.json
//
// Each tokenizer is written out whole (tokenizer.json and
// tokenizer_config.json objects) so the C test (tests/test-tokenizer-json.c)
// loads exactly what the reference ran. A "gguf" entry lists the GGUF
// metadata the C test writes for the same tokenizer; for those, the
// tokenizer.json is the Hugging Face equivalent of llama.cpp's handling:
// for a gpt2 vocabulary the pre-tokenizer regexes of llama.cpp's table run
// as a Sequence of isolating Splits, then byte-level mapping; for a llama
// (SentencePiece) vocabulary, Hugging Face's converter (generate.mjs).
//
// Only behaviours where transformers.js agrees with the Rust tokenizers are
// used: transformers.js' Metaspace pre-tokenizer never splits (so vocabularies
// under a splitting Metaspace have no merge across a ▁), its Metaspace
// decoder always strips the first space (so "never" is paired with a decoder
// that strips too), a String Split pattern is captured (so Removed is only
// used with a Regex), and its Digits pattern is ASCII \d (so digit tests use
// ASCII digits).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, AutoTokenizer } from '@huggingface/transformers';
import { spmTokenizerJson } from './generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const META = '\u2581';

// ------------------------------------------------------------ helpers

// GPT-2's byte-to-unicode alphabet.
function byteAlphabet() {
    const bs = [];
    for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
    for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
    for (let b = 0xae; b <= 0xff; b++) bs.push(b);
    const cs = bs.slice();
    let n = 0;
    for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
    const map = new Array(256);
    bs.forEach((b, i) => { map[b] = String.fromCodePoint(cs[i]); });
    return map;
}
const BL = byteAlphabet();
const bl = (s) => Array.from(new TextEncoder().encode(s), b => BL[b]).join('');
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

// Vocabulary: SPECIALS (added tokens, given ids 0..), then BASE pieces, then
// the result of every merge in order. Returns {vocab, merges, added}.
function makeBpe({ specials = [], base = [], merges = [] }) {
    const vocab = Object.create(null);
    const order = [];
    const add = (p) => { if (!(p in vocab)) { vocab[p] = order.length; order.push(p); } };
    specials.forEach(s => add(s.content));
    base.forEach(add);
    merges.forEach(([a, b]) => { if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${a} ${b}: piece missing`); add(a + b); });
    const added = specials.map(s => ({ id: vocab[s.content], content: s.content, single_word: false, lstrip: !!s.lstrip,
                                       rstrip: !!s.rstrip, normalized: !!s.normalized, special: s.special !== false }));
    return { vocab, merges, added };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');

function template(single, vocab) {
    const special_tokens = {};
    const items = single.map(x => {
        if (x === 'A') return { Sequence: { id: 'A', type_id: 0 } };
        special_tokens[x] = { id: x, ids: [vocab[x]], tokens: [x] };
        return { SpecialToken: { id: x, type_id: 0 } };
    });
    return { type: 'TemplateProcessing', single: items, pair: items, special_tokens };
}

function tokenizerJson({ bpe, normalizer = null, pre_tokenizer = null, post_processor = null, decoder = null, model = {} }) {
    return {
        version: '1.0', truncation: null, padding: null, added_tokens: bpe.added,
        normalizer, pre_tokenizer, post_processor, decoder,
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
                 fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: bpe.vocab, merges: bpe.merges, ...model },
    };
}

const CONFIG = { tokenizer_class: 'PreTrainedTokenizer', clean_up_tokenization_spaces: false };

// ------------------------------------------------------------ tokenizers

function specs() {
    const out = [];

    // 1. NFKC + Lowercase, whitespace Removed by a Regex Split, single digits,
    //    byte fallback, BOS template, ByteFallback+Fuse decoder.
    {
        const bpe = makeBpe({
            specials: [{ content: '<unk>' }, { content: '<s>' }, { content: '</s>' }],
            base: [...BYTE_TOKENS, ...LETTERS, ...DIGITS, '.', ',', '!', '?', "'", '-'],
            merges: [['t', 'h'], ['th', 'e'], ['i', 'n'], ['in', 'g'], ['e', 'r'], ['1', '2'], ['12', '3'], ['s', 't'], ['st', 'r'],
                     ['f', 'i'], ['c', 'a'], ['ca', 'f']],
        });
        out.push({
            name: 'nfkc-lower-removed-digits', note: 'Sequence[NFKC, Lowercase]; Split Regex \\s+ Removed; Digits individual; byte fallback',
            json: tokenizerJson({
                bpe,
                normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
                pre_tokenizer: { type: 'Sequence', pretokenizers: [
                    { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
                    { type: 'Digits', individual_digits: true }] },
                post_processor: template(['<s>', 'A'], bpe.vocab),
                decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
                model: { unk_token: '<unk>', byte_fallback: true },
            }),
            config: { ...CONFIG, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' },
            texts: ['The Thing', 'THE STRING', '123 4567 12', 'Ｔｈｅ ＴＨＩＮＧ', 'ﬁne ﬂing', '①②③ ½ x²', 'CAFÉ café Cafe\u0301',
                    'e\u0301 E\u0301', '\u1100\u1161\u11A8 한국어', '\u212B \u00C5 A\u030A', 'x\u00a0y\u2003z', 'tab\tnew\nline',
                    '   ', '', 'ǅungla Ǆ', 'ﾊﾟﾝ', 'a\u0323\u0307 \u1E9B\u0323', '😀 ok', '<s>The', 'Ⅻ', 'ΑΒΓ', 'Straße',
                    'İstanbul', 'ΟΔΟΣ ΣΑΣ', 'end.', "it's 3.14!",
                    // Unicode's full lowercase: İ -> i + U+0307; Σ -> ς at a word's end (Final_Sigma)
                    'İİ Iİı', 'Σ', 'ΑΣ', 'ΑΣ.Β', "ΑΣ'Β", 'ΑΣ\u0301', '.ΑΣ.', 'ΣΣ', 'ΑΣ1', 'ΑΣΑ', 'ΑΣ\u00ad', 'aΣ', '1Σ', 'Α.Σ x', 'Α\u0301Σ'],
        });
    }

    // 2-3. NFD and NFKD, no pre-tokenizer, a merge of a combining mark.
    for (const form of ['NFD', 'NFKD']) {
        const bpe = makeBpe({
            specials: [{ content: '<unk>' }],
            base: [...BYTE_TOKENS, ...LETTERS, ...LETTERS.map(c => c.toUpperCase()), ' ', '\u0301', '\u0308', '\u030A'],
            merges: [['e', '\u0301'], ['a', '\u0308'], ['c', 'a'], ['ca', 'f'], ['caf', 'e\u0301']],
        });
        out.push({
            name: `${form.toLowerCase()}-bytefallback`, note: `${form} normaliser, no pre-tokenizer, byte fallback`,
            json: tokenizerJson({
                bpe, normalizer: { type: form },
                decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
                model: { unk_token: '<unk>', byte_fallback: true },
            }),
            config: { ...CONFIG, unk_token: '<unk>' },
            texts: ['café', 'cafe\u0301', 'naïve', 'Å', 'ﬁ', '한', '\u1E9B\u0323', 'x²', 'Ｃａｆé', 'ǅ', 'e\u0301\u0301', ''],
        });
    }

    // 4. Metaspace prepend_scheme "first" (splitting), lstrip/rstrip specials,
    //    a non-special added token, fuse_unk, BOS+EOS template, config tokens.
    {
        const bpe = makeBpe({
            specials: [{ content: '<unk>' }, { content: '<s>' }, { content: '</s>' }, { content: '<pad>' },
                       { content: '<mask>', lstrip: true }, { content: '<sep>', rstrip: true },
                       { content: '<user>', special: false }],
            base: [META, ...LETTERS.filter(c => !'qxz'.includes(c)), '.', '!'],
            merges: [[META, 'h'], [META + 'h', 'e'], ['l', 'l'], ['ll', 'o'], [META + 'he', 'llo'], [META, 'w'], ['o', 'r'],
                     [META + 'w', 'or'], ['l', 'd'], [META + 'wor', 'ld'], ['h', 'i']],
        });
        out.push({
            name: 'metaspace-first-strip', note: 'Metaspace prepend_scheme first (split); lstrip/rstrip specials; fuse_unk',
            json: tokenizerJson({
                bpe,
                pre_tokenizer: { type: 'Metaspace', replacement: META, prepend_scheme: 'first', split: true },
                post_processor: template(['<s>', 'A', '</s>'], bpe.vocab),
                decoder: { type: 'Metaspace', replacement: META, prepend_scheme: 'first', split: true },
                model: { unk_token: '<unk>', fuse_unk: true },
            }),
            config: { ...CONFIG, bos_token: '<s>', eos_token: { __type: 'AddedToken', content: '</s>' }, unk_token: '<unk>',
                      pad_token: '<pad>' },
            texts: ['hello world', ' hello', 'hello  world', 'hello <mask> world', 'hello<mask>', '<mask> hi', 'hi \u00a0<mask>',
                    'hi\u2028<mask>', '<sep>   hello', 'hi<sep> \t world', '<user>hi', 'hi<user>there', ' <user> hi', '<s>hello',
                    'hello</s>', 'zzz qqq', 'hezzzllo', '', ' ', META + 'hello', 'hello ' + META + ' world', '\u3000hello',
                    'hello\tworld', '<mask><sep><user>', 'hi!'],
        });
    }

    // 5. Metaspace "never", no split: a merge across ▁ happens; the decoder
    //    (legacy add_prefix_space) strips one leading space.
    {
        const bpe = makeBpe({
            specials: [{ content: '<unk>' }],
            base: [META, ...LETTERS],
            merges: [['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['hello', META], ['w', 'o'], ['wo', 'r'], ['wor', 'l'],
                     ['worl', 'd'], ['hello' + META, 'world'], [META, 'h']],
        });
        out.push({
            name: 'metaspace-never-nosplit', note: 'Metaspace prepend_scheme never, split false; merges across ▁',
            json: tokenizerJson({
                bpe,
                pre_tokenizer: { type: 'Metaspace', replacement: META, prepend_scheme: 'never', split: false },
                decoder: { type: 'Metaspace', replacement: META, add_prefix_space: true },
                model: { unk_token: '<unk>' },
            }),
            config: { ...CONFIG, unk_token: '<unk>' },
            texts: ['hello world', ' hello world', 'hello  world', 'world hello', 'hello', 'a b'],
        });
    }

    // 6. NFC + ByteLevel with add_prefix_space, post-processor Sequence
    //    [ByteLevel, EOS template], array-format merges, non-special added token.
    {
        const merges = [[bl(' '), bl('h')], [bl('h'), bl('e')], [bl(' h'), bl('e')], [bl('l'), bl('l')], [bl('ll'), bl('o')],
                        [bl(' he'), bl('llo')], [bl(' '), bl('w')], [bl('o'), bl('r')], [bl(' w'), bl('or')], [bl('l'), bl('d')],
                        [bl(' wor'), bl('ld')], [bl(' '), bl('t')], [bl('t'), bl('h')], [bl(' t'), bl('he')], [bl('c'), bl('a')],
                        [bl('ca'), bl('f')], [BL[0xC3], BL[0xA9]], [bl('caf'), bl('é')]];
        const bpe = makeBpe({
            specials: [{ content: '<|endoftext|>' }, { content: '<tag>', special: false }],
            base: BL.slice(), merges,
        });
        out.push({
            name: 'bytelevel-prefix-postseq', note: 'NFC; ByteLevel add_prefix_space; post Sequence[ByteLevel, Template EOS]',
            json: tokenizerJson({
                bpe,
                normalizer: { type: 'NFC' },
                pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
                post_processor: { type: 'Sequence', processors: [
                    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
                    template(['A', '<|endoftext|>'], bpe.vocab)] },
                decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
            }),
            config: { ...CONFIG, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' },
            texts: ['hello world', ' hello', 'Hello', 'the e\u0301 café', 'the 2024 run\'s', 'a<tag>b', 'a <tag> b', '<|endoftext|>',
                    'x<|endoftext|>y', '  leading', 'trail  ', '\n\n\tx', '日本', '😀', '\u00a0', "I'm here!!", 'A\u030A', ''],
        });
    }

    // 7. Llama-style normaliser (Prepend ▁, Replace " " → ▁), Split on the
    //    string "-" (isolated) then Digits, byte fallback + fuse_unk, the
    //    Replace/ByteFallback/Fuse/Strip decoder.
    {
        const bpe = makeBpe({
            specials: [{ content: '<unk>' }, { content: '<s>' }, { content: '</s>' }],
            base: [...BYTE_TOKENS, META, ...LETTERS, ...DIGITS, '-', '.'],
            merges: [[META, 'h'], [META + 'h', 'e'], ['l', 'l'], [META + 'he', 'll'], [META + 'hell', 'o'], ['1', '2'], ['12', '3'],
                     ['-', '-'], ['o', '-'], [META, 'x']],
        });
        out.push({
            name: 'llama-split-string-digits', note: 'Prepend+Replace normaliser; Split String "-" Isolated; Digits; Strip decoder',
            json: tokenizerJson({
                bpe,
                normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: META },
                                                              { type: 'Replace', pattern: { String: ' ' }, content: META }] },
                pre_tokenizer: { type: 'Sequence', pretokenizers: [
                    { type: 'Split', pattern: { String: '-' }, behavior: 'Isolated', invert: false },
                    { type: 'Digits', individual_digits: false }] },
                post_processor: template(['<s>', 'A'], bpe.vocab),
                decoder: { type: 'Sequence', decoders: [
                    { type: 'Replace', pattern: { String: META }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
                    { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
                model: { unk_token: '<unk>', byte_fallback: true, fuse_unk: true },
            }),
            config: { ...CONFIG, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' },
            texts: ['hello-world', 'a--b', 'hello 123 4567', 'x-1-2', '-', 'hello', '  hello', 'naïve 東京', '😀-😀', '3.14-15',
                    'abc123def', 'hello--', ''],
        });
    }

    // 8-9. Split with a regex that can match the empty string.
    for (const behavior of ['Isolated', 'Removed']) {
        const bpe = makeBpe({ specials: [{ content: '<unk>' }], base: ['a', 'b', 'x', ' '], merges: [['a', 'b'], ['x', 'x'], ['ab', 'ab']] });
        out.push({
            name: `split-empty-match-${behavior.toLowerCase()}`, note: `Split Regex "x*" ${behavior}: empty matches split too`,
            json: tokenizerJson({
                bpe,
                pre_tokenizer: { type: 'Split', pattern: { Regex: 'x*' }, behavior, invert: false },
                // Without a decoder the reference joins tokens with spaces (as the Rust
                // tokenizers do); attrib concatenates, which is what Fuse does.
                decoder: { type: 'Fuse' },
                model: { unk_token: '<unk>' },
            }),
            config: { ...CONFIG, unk_token: '<unk>' },
            texts: ['abab', 'axxb', 'xx', 'ab xx ab', 'b', '', 'xabx', 'bxxa', 'ab'],
        });
    }

    // 10. GGUF gpt2 vocabulary without tokenizer.ggml.pre: llama.cpp's
    //     "default" regexes (llama-vocab.cpp), as isolating Splits.
    {
        const merges = [[bl(' '), bl('h')], [bl('h'), bl('e')], [bl(' h'), bl('e')], [bl('l'), bl('l')], [bl('ll'), bl('o')],
                        [bl(' he'), bl('llo')], [bl('1'), bl('2')], [bl('12'), bl('3')], [bl('123'), bl('4')], [bl('!'), bl('!')],
                        [bl(' '), bl('!')], [bl('$'), bl('1')]];
        const bpe = makeBpe({ specials: [{ content: '<|endoftext|>' }, { content: '<|user|>', special: false }], base: BL.slice(), merges });
        const re = ['[\\p{P}\\$\\+<=>\\^~\\|]+',
                    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
                    '\\p{N}+', '[0-9][0-9][0-9]'];
        const json = tokenizerJson({
            bpe,
            pre_tokenizer: { type: 'Sequence', pretokenizers: [
                ...re.map(r => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
                { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
            decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        });
        const n = Object.keys(bpe.vocab).length;
        const tokens = new Array(n);
        for (const [k, v] of Object.entries(bpe.vocab)) tokens[v] = k;
        const types = tokens.map((t, i) => (i === 0 ? 3 : i === 1 ? 4 : 1));
        out.push({
            name: 'gguf-gpt2-default-pre', note: 'GGUF gpt2 without tokenizer.ggml.pre: llama.cpp default regexes',
            json, config: { ...CONFIG },
            gguf: [['tokenizer.ggml.model', 'str', 'gpt2'], ['tokenizer.ggml.tokens', 'str[]', tokens],
                   ['tokenizer.ggml.token_type', 'i32[]', types], ['tokenizer.ggml.merges', 'str[]', merges.map(m => m.join(' '))]],
            texts: ['hello world', 'hello!!! world', '12345 1234567', '$123.45', 'a+b=c', '^~|<>', 'x<|user|>y', '<|endoftext|>',
                    "it's", 'tab\there', '  two', '日本語', '😀!', 'a  \n b', ''],
        });
    }

    // 11. GGUF llama (SentencePiece) vocabulary with add_space_prefix false,
    //     add_eos_token true, explicit unknown/padding ids; Hugging Face's
    //     converter without the ▁ prefix (and so without the Strip decoder).
    {
        const pieces = ['<unk>', '<s>', '</s>', '<pad>', ...BYTE_TOKENS, META, ...LETTERS, META + 'h', META + 'he', 'll', 'llo',
                        META + 'hello', 'or', META + 'w', META + 'wor', 'ld', META + 'world', 'he', 'hello'];
        const scores = pieces.map((p, i) => (i < 4 + 256 + 1 + 26 ? 0 : -(i - 286)));
        const types = pieces.map((p, i) => (i === 0 ? 2 : i <= 3 ? 3 : i < 260 ? 6 : 1));
        const kv = { 'tokenizer.ggml.tokens': pieces, 'tokenizer.ggml.scores': scores, 'tokenizer.ggml.token_type': types,
                     'tokenizer.ggml.bos_token_id': 1, 'tokenizer.ggml.eos_token_id': 2, 'tokenizer.ggml.unknown_token_id': 0,
                     'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_eos_token': true };
        const { json, config } = spmTokenizerJson(kv);
        json.normalizer = { type: 'Replace', pattern: { String: ' ' }, content: META };
        json.decoder.decoders = json.decoder.decoders.filter(d => d.type !== 'Strip');
        out.push({
            name: 'gguf-spm-no-space-prefix', note: 'GGUF llama, add_space_prefix false, add_eos_token true',
            json, config: { ...config, tokenizer_class: 'PreTrainedTokenizer', pad_token: '<pad>' },
            gguf: [['tokenizer.ggml.model', 'str', 'llama'], ['tokenizer.ggml.tokens', 'str[]', pieces],
                   ['tokenizer.ggml.scores', 'f32[]', scores], ['tokenizer.ggml.token_type', 'i32[]', types],
                   ['tokenizer.ggml.bos_token_id', 'u32', 1], ['tokenizer.ggml.eos_token_id', 'u32', 2],
                   ['tokenizer.ggml.unknown_token_id', 'u32', 0], ['tokenizer.ggml.padding_token_id', 'u32', 3],
                   ['tokenizer.ggml.add_bos_token', 'bool', true], ['tokenizer.ggml.add_eos_token', 'bool', true],
                   ['tokenizer.ggml.add_space_prefix', 'bool', false]],
            texts: ['hello world', ' hello world', 'hello', 'world  hello', 'Hi 東', '<s>hello</s>', 'q', ''],
        });
    }
    return out;
}

async function main() {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'attrib-synth-'));
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = work + path.sep;
    const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8'));
    const tokenizers = [];
    for (const s of specs()) {
        const dir = path.join(work, s.name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(s.json));
        fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(s.config));
        const tok = await AutoTokenizer.from_pretrained(s.name, { local_files_only: true });
        const dec = (ids, skip) => ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
        const cases = s.texts.map(text => {
            const ids = Array.from(tok.encode(text));
            const ids_no_special = Array.from(tok.encode(text, { add_special_tokens: false }));
            return { text, ids, ids_no_special, decoded: dec(ids, true), decoded_keep_special: dec(ids, false) };
        });
        const id = (t) => tok[t] ?? null;
        tokenizers.push({
            name: s.name, note: s.note, tokenizer_json: s.json, tokenizer_config: s.config, gguf: s.gguf ?? null,
            n_vocab: Math.max(...Object.values(s.json.model.vocab), ...s.json.added_tokens.map(a => a.id)) + 1,
            bos_token_id: id('bos_token_id'), eos_token_id: id('eos_token_id'), unk_token_id: id('unk_token_id'),
            pad_token_id: 'pad_token' in s.config ? id('pad_token_id') : null,
            cases,
        });
        console.log(`${s.name}: ${cases.length} strings`);
    }
    fs.rmSync(work, { recursive: true, force: true });
    const out = { reference: `${pkg.name} ${pkg.version}`, generator: 'tests/golden/make_synthetic_goldens.mjs',
                  encode_options: 'ids: tokenizer.encode(text); ids_no_special: add_special_tokens false; decoded: skip_special_tokens true / false, clean_up_tokenization_spaces false',
                  tokenizers };
    fs.writeFileSync(path.join(here, 'synthetic-tokenizers.json'), JSON.stringify(out, null, 1) + '\n');
}

main().catch(e => { console.error(e); process.exit(1); });
