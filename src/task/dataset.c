/*
 * dataset.c — labelled prompts from CSV, JSON-array or JSONL files.
 *
 * A dataset is a list of rows, each with a text (the prompt to explain), a
 * label (1 harmful, 0 harmless, -1 unknown) and an id for reports. Files
 * come from many sources (XSTest, JailbreakBench, the refusal-direction
 * splits, users' own exports), so columns are found by name with the
 * documented fall-backs, and every row is checked: a ragged CSV record, an
 * unterminated quote, invalid UTF-8, an empty text or a null label is an
 * error naming the file, the 1-based data row (and its line) and the
 * column, never a silently skipped or shifted row.
 *
 * The whole file is read into memory (bounded by DATASET_MAX_BYTES). CSV
 * is parsed in place: quoted fields are unescaped over their own bytes
 * (the result is never longer than the source) and NUL-terminated where
 * their delimiter was, so row texts point into the file buffer and a large
 * CSV costs no second copy. JSON is parsed one object at a time with
 * jansson (the array is walked by hand, each element parsed on its own),
 * so memory stays proportional to the file, not to jansson's tree of it;
 * the strings kept are copied into an arena.
 *
 * Selection (sample, then limit, then shard) reorders nothing: it compacts
 * the row array in place, remembering each row's index in the selection
 * before sharding so that shard outputs can be merged by index.
 */
#include "task/dataset.h"
#include "basics/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NO_COL SIZE_MAX
#define ARENA_BLOCK ((size_t)64 << 10)

static const char *const TEXT_COLUMNS[] = {"prompt", "instruction", "goal", "Goal", "text", "query", "question"};
static const char *const DEFAULT_POSITIVE[] = {"unsafe", "harmful", "1", "true", "yes"};

/* ---- the dataset --------------------------------------------------------- */

typedef struct ds_row {
    const char *text;   /* NUL-terminated, text_len bytes: valid UTF-8, no NUL, not empty */
    size_t text_len;
    const char *id;     /* the id column's value, or the row number once selection is done */
    int64_t source_row; /* 1-based data row in the file */
    int64_t index;      /* position in the selection before sharding */
    int label;          /* 1, 0 or -1 */
} ds_row;

/* Strings that are not in the file buffer (JSON values, generated ids) live
 * in a list of blocks, so that pointers to them never move. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

struct attrib_dataset {
    char *file;         /* the CSV file's bytes, which rows point into (NULL for JSON) */
    arena_block *arena;
    ds_row *rows;       /* every file row while loading, the selected rows after */
    size_t n_rows, cap_rows;
    int64_t n_file_rows;
    char *text_col, *label_col, *id_col;
};

static char *arena_alloc(attrib_dataset *ds, size_t n) {
    arena_block *b = ds->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK, total;
        if (!attrib_add_ok(sizeof *b, cap, &total)) return NULL;
        b = attrib_malloc(total);
        if (!b) return NULL;
        b->next = ds->arena;
        b->used = 0;
        b->cap = cap;
        ds->arena = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

static const char *arena_strndup(attrib_dataset *ds, const char *s, size_t n) {
    size_t total;
    if (!attrib_add_ok(n, 1, &total)) return NULL;
    char *p = arena_alloc(ds, total);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void attrib_dataset_free(attrib_dataset *ds) {
    if (!ds) return;
    for (arena_block *b = ds->arena, *next; b; b = next) {
        next = b->next;
        attrib_free(b);
    }
    attrib_free(ds->file);
    attrib_free(ds->rows);
    attrib_free(ds->text_col);
    attrib_free(ds->label_col);
    attrib_free(ds->id_col);
    attrib_free(ds);
}

attrib_dataset_options attrib_dataset_default_options(void) {
    attrib_dataset_options o;
    memset(&o, 0, sizeof o);
    o.default_label = -1;
    return o;
}

dataset_limits dataset_default_limits(void) {
    dataset_limits l = {DATASET_MAX_BYTES, DATASET_MAX_ROWS, DATASET_MAX_COLS};
    return l;
}

/* ---- loading state --------------------------------------------------------- */

/* One column name: a CSV header field (in the file buffer) or a key of the
 * first JSON object (owned by that object). */
typedef struct col_name {
    const char *s;
    size_t len;
    size_t pos; /* column number - 1, kept through sorting */
} col_name;

/* A field of one row as found in the file, before it is checked. */
typedef struct field_ref {
    const char *s;
    size_t len;
    bool present;
} field_ref;

typedef struct loader {
    const char *name; /* the file, for messages */
    const attrib_dataset_options *opt;
    const dataset_limits *lim;
    attrib_dataset *ds;
    bool is_json;
    bool header_done; /* column names may be quoted in messages */
    col_name *cols; /* CSV header, or the first JSON object's keys */
    size_t n_cols, cap_cols;
    size_t text_idx, label_idx, id_idx; /* into cols; NO_COL when absent */
} loader;

/* "row 5 (line 7)" or "header (line 1)": where a message points. */
static void where(char *out, size_t n, int64_t row, int64_t line) {
    if (row == 0)
        snprintf(out, n, "header (line %lld)", (long long)line);
    else
        snprintf(out, n, "row %lld (line %lld)", (long long)row, (long long)line);
}

/* Byte C quoted for a message: 'x' when printable ASCII, else 0xNN. */
static void char_desc(char *out, size_t n, unsigned char c) {
    if (c >= 0x20 && c < 0x7f)
        snprintf(out, n, "'%c'", c);
    else
        snprintf(out, n, "byte 0x%02x", c);
}

/* The column names as "'a', 'b', ''" for a message (truncated with "..."). */
static void list_columns(const loader *ld, char *out, size_t n) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t j = 0; j < ld->n_cols; j++) {
        int w = snprintf(out + used, n - used, "%s'%.*s'", j ? ", " : "", (int)(ld->cols[j].len > 60 ? 60 : ld->cols[j].len),
                         ld->cols[j].s);
        if (w < 0 || (size_t)w >= n - used) {
            if (n > 4) memcpy(out + n - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

static size_t find_col(const loader *ld, const char *name) {
    size_t len = strlen(name);
    for (size_t j = 0; j < ld->n_cols; j++)
        if (ld->cols[j].len == len && memcmp(ld->cols[j].s, name, len) == 0) return j;
    return NO_COL;
}

static attrib_status missing_column(const loader *ld, const char *role, const char *name) {
    char cols[400];
    list_columns(ld, cols, sizeof cols);
    return attrib_fail(ATTRIB_E_MISSING, "%s: %s column '%s' not found; the %s: %s", ld->name, role, name,
                       ld->is_json ? "first object's keys are" : "header's columns are", cols);
}

/* Picks the text, label and id columns from the header (or first object)
 * as attrib_dataset_options documents, and records their names. */
static attrib_status resolve_columns(loader *ld) {
    const attrib_dataset_options *o = ld->opt;
    attrib_dataset *ds = ld->ds;
    ld->text_idx = ld->label_idx = ld->id_idx = NO_COL;
    if (o->text_col) {
        ld->text_idx = find_col(ld, o->text_col);
        if (ld->text_idx == NO_COL) return missing_column(ld, "text", o->text_col);
    } else {
        for (size_t i = 0; i < sizeof TEXT_COLUMNS / sizeof *TEXT_COLUMNS && ld->text_idx == NO_COL; i++)
            ld->text_idx = find_col(ld, TEXT_COLUMNS[i]);
        if (ld->text_idx == NO_COL) {
            char cols[400];
            list_columns(ld, cols, sizeof cols);
            return attrib_fail(ATTRIB_E_MISSING,
                               "%s: no text column: none of prompt, instruction, goal, Goal, text, query, question "
                               "is present; the %s: %s",
                               ld->name, ld->is_json ? "first object's keys are" : "header's columns are", cols);
        }
    }
    if (o->label_col) {
        ld->label_idx = find_col(ld, o->label_col);
        if (ld->label_idx == NO_COL) return missing_column(ld, "label", o->label_col);
    } else {
        ld->label_idx = find_col(ld, "label");
    }
    if (o->id_col) {
        ld->id_idx = find_col(ld, o->id_col);
        if (ld->id_idx == NO_COL) return missing_column(ld, "id", o->id_col);
    } else {
        ld->id_idx = find_col(ld, "id");
    }
    /* Names come from the header (validated: UTF-8 without NUL) or from
     * jansson keys (C strings), so strndup keeps them whole. */
    const col_name *t = &ld->cols[ld->text_idx];
    ds->text_col = attrib_strndup(t->s, t->len);
    if (!ds->text_col) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
    if (ld->label_idx != NO_COL) {
        const col_name *l = &ld->cols[ld->label_idx];
        ds->label_col = attrib_strndup(l->s, l->len);
        if (!ds->label_col) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
    }
    if (ld->id_idx != NO_COL) {
        const col_name *c = &ld->cols[ld->id_idx];
        ds->id_col = attrib_strndup(c->s, c->len);
        if (!ds->id_col) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
    }
    return ATTRIB_OK;
}

/* ---- checking and keeping one row ----------------------------------------- */

/* Offset of the first byte of S that is not part of well-formed UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF are not) or is
 * NUL, or LEN when there is none. */
static size_t utf8_bad_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == 0) return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return i;
        }
        if (len - i <= need) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += need + 1;
    }
    return len;
}

static attrib_status check_field(const loader *ld, int64_t row, int64_t line, const char *col, const field_ref *f) {
    size_t bad = utf8_bad_at((const unsigned char *)f->s, f->len);
    if (bad == f->len) return ATTRIB_OK;
    char at[64];
    where(at, sizeof at, row, line);
    if (f->s[bad] == '\0')
        return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: %s, column '%s': NUL byte at byte %zu of the value", ld->name, at, col,
                           bad);
    return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: %s, column '%s': invalid UTF-8 at byte %zu of the value (byte 0x%02x)",
                       ld->name, at, col, bad, (unsigned char)f->s[bad]);
}

static bool ascii_iequal(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

static int label_of(const loader *ld, const char *v, size_t len) {
    const char *pos = ld->opt->positive;
    if (pos) return strlen(pos) == len && memcmp(v, pos, len) == 0;
    for (size_t i = 0; i < sizeof DEFAULT_POSITIVE / sizeof *DEFAULT_POSITIVE; i++)
        if (ascii_iequal(v, len, DEFAULT_POSITIVE[i])) return 1;
    return 0;
}

static attrib_status push_row(loader *ld, const ds_row *r) {
    attrib_dataset *ds = ld->ds;
    if (ds->n_rows >= ld->lim->max_rows)
        return attrib_fail(ATTRIB_E_LIMIT, "%s: more than %zu data rows (the limit)", ld->name, ld->lim->max_rows);
    if (ds->n_rows == ds->cap_rows) {
        size_t cap = ds->cap_rows ? ds->cap_rows : 256, bytes;
        if (ds->cap_rows && !attrib_mul_ok(cap, 2, &cap))
            return attrib_fail(ATTRIB_E_LIMIT, "%s: too many rows", ld->name);
        if (cap > ld->lim->max_rows) cap = ld->lim->max_rows;
        if (!attrib_mul_ok(cap, sizeof *ds->rows, &bytes))
            return attrib_fail(ATTRIB_E_LIMIT, "%s: too many rows", ld->name);
        ds_row *rows = attrib_realloc(ds->rows, bytes);
        if (!rows) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s (%zu rows)", ld->name, ds->n_rows);
        ds->rows = rows;
        ds->cap_rows = cap;
    }
    ds->rows[ds->n_rows++] = *r;
    return ATTRIB_OK;
}

/* Checks one row's fields, works out its label and appends it. COPY: the
 * text and id are not in the kept file buffer (JSON) and must be copied. */
static attrib_status take_row(loader *ld, int64_t row, int64_t line, const field_ref *text, const field_ref *label,
                              const field_ref *id, bool copy) {
    attrib_dataset *ds = ld->ds;
    char at[64];
    attrib_status st = check_field(ld, row, line, ds->text_col, text);
    if (st) return st;
    if (text->len == 0) {
        where(at, sizeof at, row, line);
        return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: %s, column '%s': empty text", ld->name, at, ds->text_col);
    }
    ds_row r = {text->s, text->len, NULL, row, 0, ld->opt->default_label};
    if (label->present) {
        if ((st = check_field(ld, row, line, ds->label_col, label))) return st;
        if (label->len == 0) {
            where(at, sizeof at, row, line);
            return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: %s, column '%s': empty label", ld->name, at, ds->label_col);
        }
        r.label = label_of(ld, label->s, label->len);
    }
    if (id->present) {
        if ((st = check_field(ld, row, line, ds->id_col, id))) return st;
        r.id = id->s;
    }
    if (copy) {
        r.text = arena_strndup(ds, text->s, text->len);
        if (!r.text) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
        if (id->present) {
            r.id = arena_strndup(ds, id->s, id->len);
            if (!r.id) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
        }
    }
    return push_row(ld, &r);
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct csv_reader {
    char *buf; /* LEN bytes and a writable byte past them */
    size_t len, pos;
    int64_t line; /* 1-based line at pos: LF, CRLF and a lone CR each end a line */
} csv_reader;

static void csv_eat_eol(csv_reader *r) {
    if (r->buf[r->pos] == '\r' && r->pos + 1 < r->len && r->buf[r->pos + 1] == '\n') r->pos++;
    r->pos++;
    r->line++;
}

/* "column 3 'label'" (or "column 9" past the header) for messages. */
static void col_desc(const loader *ld, size_t col, char *out, size_t n) {
    if (col < ld->n_cols && ld->header_done)
        snprintf(out, n, "column %zu '%.*s'", col + 1, (int)(ld->cols[col].len > 60 ? 60 : ld->cols[col].len),
                 ld->cols[col].s);
    else
        snprintf(out, n, "column %zu", col + 1);
}

/* Reads the field at r->pos in place: unescapes it, NUL-terminates it and
 * consumes what ends it. *more is true when a comma ended it (so another
 * field of the same record follows). ROW/LINE: the record, for messages
 * (row 0 = the header); COL: the field's 0-based column. */
static attrib_status csv_field(const loader *ld, csv_reader *r, int64_t row, int64_t line, size_t col,
                               field_ref *out, bool *more) {
    char *b = r->buf;
    size_t start = r->pos, i = start, end;
    if (i < r->len && b[i] == '"') {
        int64_t start_line = r->line;
        size_t w = start; /* unescaped bytes are written from the opening quote on */
        for (i++;; i++) {
            if (i >= r->len) {
                char at[64], cd[96];
                where(at, sizeof at, row, start_line);
                col_desc(ld, col, cd, sizeof cd);
                return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: %s, %s: quoted field is never closed (it starts there)",
                                   ld->name, at, cd);
            }
            char c = b[i];
            if (c == '"') {
                if (i + 1 < r->len && b[i + 1] == '"') {
                    b[w++] = '"';
                    i++;
                    continue;
                }
                i++;
                break;
            }
            if (c == '\n' || (c == '\r' && !(i + 1 < r->len && b[i + 1] == '\n'))) r->line++;
            b[w++] = c;
        }
        if (i < r->len && b[i] != ',' && b[i] != '\n' && b[i] != '\r') {
            char at[64], cd[96], ch[16];
            where(at, sizeof at, row, line);
            col_desc(ld, col, cd, sizeof cd);
            char_desc(ch, sizeof ch, (unsigned char)b[i]);
            return attrib_fail(ATTRIB_E_BAD_TEXT,
                               "%s: %s, %s: %s after the closing quote (a quoted field must end at a comma or line end)",
                               ld->name, at, cd, ch);
        }
        end = w;
    } else {
        /* A quote inside an unquoted field is kept as a plain byte. */
        while (i < r->len && b[i] != ',' && b[i] != '\n' && b[i] != '\r') i++;
        end = i;
    }
    r->pos = i;
    *more = false;
    if (i < r->len) {
        if (b[i] == ',') {
            *more = true;
            r->pos++;
        } else {
            csv_eat_eol(r);
        }
    }
    b[end] = '\0'; /* only now: for an unquoted field this overwrites its delimiter */
    out->s = b + start;
    out->len = end - start;
    out->present = true;
    return ATTRIB_OK;
}

/* Skips empty lines (they are not rows). False at the end of the input. */
static bool csv_next_record(csv_reader *r) {
    while (r->pos < r->len && (r->buf[r->pos] == '\n' || r->buf[r->pos] == '\r')) csv_eat_eol(r);
    return r->pos < r->len;
}

static int cmp_col_name(const void *pa, const void *pb) {
    const col_name *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Refuses a header that names a column twice: which one is meant would be
 * a guess. Sorting keeps this O(H log H) for wide headers. */
static attrib_status check_duplicate_columns(const loader *ld) {
    if (ld->n_cols < 2) return ATTRIB_OK;
    col_name *sorted = attrib_calloc_array(ld->n_cols, sizeof *sorted);
    if (!sorted) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
    memcpy(sorted, ld->cols, ld->n_cols * sizeof *sorted);
    qsort(sorted, ld->n_cols, sizeof *sorted, cmp_col_name);
    size_t dup = NO_COL, first = 0, second = 0;
    for (size_t j = 1; j < ld->n_cols; j++) {
        const col_name *a = &sorted[j - 1], *b = &sorted[j];
        if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0 && (dup == NO_COL || b->pos < second)) {
            dup = j;
            first = a->pos;
            second = b->pos;
        }
    }
    attrib_free(sorted);
    if (dup == NO_COL) return ATTRIB_OK;
    const col_name *c = &ld->cols[first];
    return attrib_fail(ATTRIB_E_DUPLICATE, "%s: the header names column '%.*s' twice (columns %zu and %zu)", ld->name,
                       (int)(c->len > 60 ? 60 : c->len), c->s, first + 1, second + 1);
}

static attrib_status csv_header(loader *ld, csv_reader *r) {
    if (!csv_next_record(r)) return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: empty file: no header row", ld->name);
    int64_t line = r->line;
    for (bool more = true; more;) {
        if (ld->n_cols == ld->lim->max_cols)
            return attrib_fail(ATTRIB_E_LIMIT, "%s: the header has more than %zu columns (the limit)", ld->name,
                               ld->lim->max_cols);
        if (ld->n_cols == ld->cap_cols) {
            size_t cap = ld->cap_cols ? ld->cap_cols * 2 : 16; /* <= 2 * max_cols: no overflow */
            col_name *cols = attrib_realloc(ld->cols, cap * sizeof *cols);
            if (!cols) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
            ld->cols = cols;
            ld->cap_cols = cap;
        }
        field_ref f;
        attrib_status st = csv_field(ld, r, 0, line, ld->n_cols, &f, &more);
        if (st) return st;
        size_t bad = utf8_bad_at((const unsigned char *)f.s, f.len);
        if (bad != f.len)
            return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: header (line %lld), column %zu: %s at byte %zu of the name",
                               ld->name, (long long)line, ld->n_cols + 1, f.s[bad] ? "invalid UTF-8" : "NUL byte", bad);
        ld->cols[ld->n_cols] = (col_name){f.s, f.len, ld->n_cols};
        ld->n_cols++;
    }
    ld->header_done = true;
    attrib_status st = check_duplicate_columns(ld);
    if (st) return st;
    return resolve_columns(ld);
}

static attrib_status csv_record(loader *ld, csv_reader *r, int64_t row) {
    int64_t line = r->line;
    field_ref text = {0}, label = {0}, id = {0};
    size_t j = 0;
    for (bool more = true; more; j++) {
        if (j == ld->n_cols) {
            /* Count the rest for the message; a broken field only makes the count a lower bound. */
            size_t count = j;
            bool exact = true;
            while (more) {
                field_ref f;
                if (csv_field(ld, r, row, line, count, &f, &more)) {
                    exact = false;
                    break;
                }
                count++;
            }
            return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: row %lld (line %lld) has %s%zu fields but the header has %zu (column %zu is extra)",
                               ld->name, (long long)row, (long long)line, exact ? "" : "at least ", count, ld->n_cols,
                               ld->n_cols + 1);
        }
        field_ref f;
        attrib_status st = csv_field(ld, r, row, line, j, &f, &more);
        if (st) return st;
        if (j == ld->text_idx) text = f;
        if (j == ld->label_idx) label = f;
        if (j == ld->id_idx) id = f;
    }
    if (j < ld->n_cols) {
        char cd[96];
        col_desc(ld, j, cd, sizeof cd);
        return attrib_fail(ATTRIB_E_BAD_TEXT, "%s: row %lld (line %lld) has %zu field%s but the header has %zu (%s is missing)",
                           ld->name, (long long)row, (long long)line, j, j == 1 ? "" : "s", ld->n_cols, cd);
    }
    return take_row(ld, row, line, &text, &label, &id, false);
}

/* ---- JSON ------------------------------------------------------------------ */

static bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Status and message of a failed json_loadb on the row that starts at byte
 * BASE of the file on line LINE. */
static attrib_status json_failure(const loader *ld, const json_error_t *e, int64_t row, int64_t line, size_t base) {
    char at[64];
    where(at, sizeof at, row, line + e->line - 1);
    switch (json_error_code(e)) {
    case json_error_duplicate_key:
        return attrib_fail(ATTRIB_E_DUPLICATE, "%s: %s: an object names a key twice: %s", ld->name, at, e->text);
    case json_error_out_of_memory:
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory parsing %s", ld->name);
    default:
        return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s: not valid JSON: %s (byte %zu of the file)", ld->name, at, e->text,
                           base + (size_t)(e->position > 0 ? e->position : 0));
    }
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* A label or id value as text: strings as they are, numbers as integers
 * when integral (1.0 -> "1") and otherwise in the shortest form that reads
 * back exactly, booleans as "true"/"false". BUF (N bytes; 32 fit every
 * double) holds the converted forms. */
static bool json_scalar_text(const json_t *v, char *buf, size_t n, field_ref *out) {
    out->present = true;
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->s = json_string_value(v);
        out->len = json_string_length(v);
        return true;
    case JSON_INTEGER:
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18 && (double)(long long)d == d) {
            snprintf(buf, n, "%lld", (long long)d);
        } else {
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, n, "%.*g", prec, d);
                if (strtod(buf, NULL) == d) break;
            }
        }
        break;
    }
    case JSON_TRUE: snprintf(buf, n, "true"); break;
    case JSON_FALSE: snprintf(buf, n, "false"); break;
    default: return false;
    }
    out->s = buf;
    out->len = strlen(buf);
    return true;
}

/* Takes row ROW from object OBJ (the first one also fixes the columns). */
static attrib_status json_object_row(loader *ld, const json_t *obj, int64_t row, int64_t line) {
    attrib_dataset *ds = ld->ds;
    char at[64];
    if (!json_is_object(obj)) {
        where(at, sizeof at, row, line);
        return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s is %s, not an object", ld->name, at, json_kind(obj));
    }
    if (row == 1) {
        size_t n = json_object_size(obj);
        ld->cols = attrib_calloc_array(n ? n : 1, sizeof *ld->cols);
        if (!ld->cols) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)obj, key, val) {
            if (ld->n_cols < n) {
                ld->cols[ld->n_cols] = (col_name){key, strlen(key), ld->n_cols};
                ld->n_cols++;
            }
        }
        attrib_status st = resolve_columns(ld);
        /* The keys belong to this object: forget them before it is freed. */
        attrib_free(ld->cols);
        ld->cols = NULL;
        ld->n_cols = 0;
        if (st) return st;
    }
    const char *names[3] = {ds->text_col, ds->label_col, ds->id_col};
    field_ref f[3] = {{0}, {0}, {0}};
    char conv[3][32];
    for (int k = 0; k < 3; k++) {
        if (!names[k]) continue;
        const json_t *v = json_object_get(obj, names[k]);
        where(at, sizeof at, row, line);
        if (!v) return attrib_fail(ATTRIB_E_MISSING, "%s: %s has no key '%s'", ld->name, at, names[k]);
        /* The text must be a string; labels and ids may be any scalar but null. */
        bool ok = (k != 0 || json_is_string(v)) && json_scalar_text(v, conv[k], sizeof conv[k], &f[k]);
        if (!ok)
            return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s, column '%s' is %s; expected %s", ld->name, at, names[k],
                               json_kind(v), k == 0 ? "a string" : "a string, number or boolean");
    }
    return take_row(ld, row, line, &f[0], &f[1], &f[2], true);
}

/* Counts the line breaks in BUF[FROM, TO) into *LINE. */
static void count_lines(const char *buf, size_t from, size_t to, int64_t *line) {
    for (const char *p = buf + from, *e = buf + to; (p = memchr(p, '\n', (size_t)(e - p))); p++) (*line)++;
}

static attrib_status json_array_load(loader *ld, const char *buf, size_t len, size_t pos) {
    int64_t line = 1, row = 0;
    count_lines(buf, 0, pos, &line);
    size_t prev = pos;
    pos++; /* '[' */
    for (;;) {
        while (pos < len && json_space(buf[pos])) pos++;
        count_lines(buf, prev, pos, &line);
        prev = pos;
        if (pos >= len)
            return attrib_fail(ATTRIB_E_BAD_JSON, "%s: the array is never closed (row %lld is the last complete one)",
                               ld->name, (long long)row);
        if (buf[pos] == ']' && row == 0) break;
        row++;
        if (buf[pos] != '{') {
            char at[64], ch[16];
            where(at, sizeof at, row, line);
            char_desc(ch, sizeof ch, (unsigned char)buf[pos]);
            return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s: expected an object, found %s", ld->name, at, ch);
        }
        json_error_t e;
        json_t *obj = attrib_json_loadb(buf + pos, len - pos, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &e);
        if (!obj) return json_failure(ld, &e, row, line, pos);
        attrib_status st = json_object_row(ld, obj, row, line);
        json_decref(obj);
        if (st) return st;
        pos += (size_t)e.position; /* on success jansson reports the bytes it consumed */
        while (pos < len && json_space(buf[pos])) pos++;
        if (pos < len && buf[pos] == ',') {
            pos++;
            continue;
        }
        if (pos < len && buf[pos] == ']') break;
        count_lines(buf, prev, pos, &line);
        char at[64];
        where(at, sizeof at, row, line);
        if (pos >= len) return attrib_fail(ATTRIB_E_BAD_JSON, "%s: the array is never closed after %s", ld->name, at);
        char ch[16];
        char_desc(ch, sizeof ch, (unsigned char)buf[pos]);
        return attrib_fail(ATTRIB_E_BAD_JSON, "%s: expected ',' or ']' after %s, found %s", ld->name, at, ch);
    }
    for (pos++; pos < len; pos++)
        if (!json_space(buf[pos]))
            return attrib_fail(ATTRIB_E_BAD_JSON, "%s: unexpected data after the closing ']' (byte %zu)", ld->name, pos);
    return ATTRIB_OK;
}

static attrib_status jsonl_load(loader *ld, const char *buf, size_t len, size_t pos) {
    int64_t line = 1, row = 0;
    count_lines(buf, 0, pos, &line);
    /* POS is at the first '{'; the line started earlier only by spaces. */
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t eol = nl ? (size_t)(nl - buf) : len, start = pos, end = eol;
        while (start < end && json_space(buf[start])) start++;
        while (end > start && json_space(buf[end - 1])) end--;
        if (start < end) {
            row++;
            json_error_t e;
            json_t *obj = attrib_json_loadb(buf + start, end - start, JSON_REJECT_DUPLICATES, &e);
            if (!obj) {
                attrib_status st = json_failure(ld, &e, row, line, start);
                if (st == ATTRIB_E_BAD_JSON) {
                    char at[64];
                    where(at, sizeof at, row, line);
                    return attrib_fail(ATTRIB_E_BAD_JSON, "%s: %s: not valid JSON: %s (JSONL holds one object per line)",
                                       ld->name, at, e.text);
                }
                return st;
            }
            attrib_status st = json_object_row(ld, obj, row, line);
            json_decref(obj);
            if (st) return st;
        }
        pos = eol + 1;
        line++;
    }
    return ATTRIB_OK;
}

/* ---- selection ------------------------------------------------------------- */

static uint64_t splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform integer in [0, M) (M >= 1), by rejecting the 2^64 mod M lowest
 * outputs so that every residue is equally likely. */
static uint64_t uniform_below(uint64_t *state, uint64_t m) {
    uint64_t threshold = (0 - m) % m;
    for (;;) {
        uint64_t x = splitmix64_next(state);
        if (x >= threshold) return x % m;
    }
}

/* sample, then limit, then shard, compacting ds->rows in place; then gives
 * the rows without an id column their row number as id. */
static attrib_status select_rows(loader *ld) {
    attrib_dataset *ds = ld->ds;
    const attrib_dataset_options *o = ld->opt;
    size_t n = ds->n_rows, m = n;
    if (o->sample > 0 && (uint64_t)o->sample < n) {
        /* Selection sampling (Knuth's Algorithm S): row i is kept with
         * probability (still wanted)/(still left), which makes every subset
         * of the requested size equally likely and keeps file order. */
        size_t want = (size_t)o->sample, got = 0;
        uint64_t state = o->seed;
        for (size_t i = 0; i < n && got < want; i++)
            if (uniform_below(&state, n - i) < want - got) ds->rows[got++] = ds->rows[i];
        m = got;
    }
    if (o->limit > 0 && (uint64_t)o->limit < m) m = (size_t)o->limit;
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        if (o->shard_n != 0 && i % (size_t)o->shard_n != (size_t)(o->shard_k - 1)) continue;
        ds_row r = ds->rows[i];
        r.index = (int64_t)i;
        ds->rows[kept++] = r;
    }
    ds->n_rows = kept;
    for (size_t i = 0; i < kept; i++) {
        if (ds->rows[i].id) continue;
        char num[24];
        int w = snprintf(num, sizeof num, "%lld", (long long)ds->rows[i].source_row);
        ds->rows[i].id = arena_strndup(ds, num, (size_t)w);
        if (!ds->rows[i].id) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", ld->name);
    }
    return ATTRIB_OK;
}

/* ---- entry points ------------------------------------------------------------ */

static attrib_status check_options(const attrib_dataset_options *o) {
    if (o->default_label < -1 || o->default_label > 1)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "dataset: default_label must be 0, 1 or -1, not %d", o->default_label);
    if (o->limit < 0) return attrib_fail(ATTRIB_E_INVALID_ARG, "dataset: limit must be >= 0, not %lld", (long long)o->limit);
    if (o->sample < 0)
        return attrib_fail(ATTRIB_E_INVALID_ARG, "dataset: sample must be >= 0, not %lld", (long long)o->sample);
    if ((o->shard_k != 0 || o->shard_n != 0) && (o->shard_n < 1 || o->shard_k < 1 || o->shard_k > o->shard_n))
        return attrib_fail(ATTRIB_E_INVALID_ARG, "dataset: shard %d/%d is invalid: need 1 <= K <= N", o->shard_k,
                           o->shard_n);
    return ATTRIB_OK;
}

/* Parses BUF (LEN bytes plus a writable byte past them; owned: kept for a
 * CSV, freed otherwise). */
static attrib_status load_buffer(const char *name, char *buf, size_t len, dataset_format format,
                                 const attrib_dataset_options *opt, const dataset_limits *lim, attrib_dataset **out) {
    attrib_dataset *ds = attrib_calloc_array(1, sizeof *ds);
    if (!ds) {
        attrib_free(buf);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", name);
    }
    ds->file = buf;
    loader ld = {.name = name, .opt = opt, .lim = lim, .ds = ds, .text_idx = NO_COL, .label_idx = NO_COL, .id_idx = NO_COL};
    size_t start = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0, first = start;
    while (first < len && json_space(buf[first])) first++;
    bool json = format == DATASET_FORMAT_JSON ||
                (format == DATASET_FORMAT_AUTO && first < len && (buf[first] == '[' || buf[first] == '{'));
    attrib_status st;
    if (json) {
        ld.is_json = true;
        if (first < len && buf[first] == '[')
            st = json_array_load(&ld, buf, len, first);
        else if (first < len && buf[first] == '{')
            st = jsonl_load(&ld, buf, len, first);
        else
            st = attrib_fail(ATTRIB_E_BAD_JSON, "%s: not JSON: expected '[' (an array of objects) or '{' (JSONL) first",
                             name);
        /* Kept strings were copied: the text is no longer needed. */
        attrib_free(ds->file);
        ds->file = NULL;
    } else {
        csv_reader r = {buf, len, start, 1};
        st = csv_header(&ld, &r);
        for (int64_t row = 1; st == ATTRIB_OK && csv_next_record(&r); row++) st = csv_record(&ld, &r, row);
    }
    attrib_free(ld.cols);
    if (st == ATTRIB_OK && ds->n_rows == 0)
        st = attrib_fail(json ? ATTRIB_E_BAD_JSON : ATTRIB_E_BAD_TEXT, "%s: no data rows", name);
    if (st == ATTRIB_OK) {
        ds->n_file_rows = (int64_t)ds->n_rows;
        st = select_rows(&ld);
    }
    if (st) {
        attrib_dataset_free(ds);
        return st;
    }
    *out = ds;
    return ATTRIB_OK;
}

attrib_status dataset_load_memory(const char *name, const void *data, size_t len, dataset_format format,
                                  const dataset_limits *limits, const attrib_dataset_options *opt,
                                  attrib_dataset **out) {
    if (!name || (!data && len) || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "dataset_load_memory: NULL argument");
    attrib_dataset_options defaults = attrib_dataset_default_options();
    dataset_limits lim = limits ? *limits : dataset_default_limits();
    if (!opt) opt = &defaults;
    attrib_status st = check_options(opt);
    if (st) return st;
    if (len > lim.max_bytes)
        return attrib_fail(ATTRIB_E_LIMIT, "%s: %zu bytes is larger than the limit of %zu bytes", name, len,
                           lim.max_bytes);
    char *buf = attrib_malloc(len + 1); /* len <= max_bytes: no overflow */
    if (!buf) return attrib_fail(ATTRIB_E_NOMEM, "out of memory loading %s", name);
    if (len) memcpy(buf, data, len);
    buf[len] = '\0';
    return load_buffer(name, buf, len, format, opt, &lim, out);
}

attrib_status attrib_dataset_load(const char *path, const attrib_dataset_options *opt, attrib_dataset **out) {
    if (!path || !out) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_dataset_load: NULL %s", path ? "out" : "path");
    attrib_dataset_options defaults = attrib_dataset_default_options();
    dataset_limits lim = dataset_default_limits();
    if (!opt) opt = &defaults;
    attrib_status st = check_options(opt);
    if (st) return st;
    /* Refuse an oversized file before reading any of it. */
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return attrib_fail(ATTRIB_E_IO, "'%s' is a directory, not a dataset file", path);
        if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > lim.max_bytes)
            return attrib_fail(ATTRIB_E_LIMIT, "'%s' is %lld bytes, larger than the limit of %zu bytes", path,
                               (long long)sb.st_size, lim.max_bytes);
    }
    char *buf;
    size_t len;
    /* max_bytes + 1: attrib_read_small_file refuses a file that fills its
     * limit exactly, and a file of max_bytes is allowed. */
    if ((st = attrib_read_small_file(path, lim.max_bytes + 1, &buf, &len))) return st;
    if (len > lim.max_bytes) { /* grew after the stat */
        attrib_free(buf);
        return attrib_fail(ATTRIB_E_LIMIT, "'%s' is larger than the limit of %zu bytes", path, lim.max_bytes);
    }
    return load_buffer(path, buf, len, DATASET_FORMAT_AUTO, opt, &lim, out);
}

/* ---- accessors ---------------------------------------------------------------- */

static const ds_row *row_at(const attrib_dataset *ds, int64_t i) {
    if (!ds || i < 0 || (uint64_t)i >= ds->n_rows) return NULL;
    return &ds->rows[i];
}

int64_t attrib_dataset_size(const attrib_dataset *ds) { return ds ? (int64_t)ds->n_rows : 0; }

const char *attrib_dataset_text(const attrib_dataset *ds, int64_t i, size_t *len) {
    const ds_row *r = row_at(ds, i);
    if (len) *len = r ? r->text_len : 0;
    return r ? r->text : NULL;
}

int attrib_dataset_label(const attrib_dataset *ds, int64_t i) {
    const ds_row *r = row_at(ds, i);
    return r ? r->label : -1;
}

const char *attrib_dataset_id(const attrib_dataset *ds, int64_t i) {
    const ds_row *r = row_at(ds, i);
    return r ? r->id : NULL;
}

int64_t attrib_dataset_index(const attrib_dataset *ds, int64_t i) {
    const ds_row *r = row_at(ds, i);
    return r ? r->index : -1;
}

int64_t attrib_dataset_source_row(const attrib_dataset *ds, int64_t i) {
    const ds_row *r = row_at(ds, i);
    return r ? r->source_row : -1;
}

int64_t attrib_dataset_file_rows(const attrib_dataset *ds) { return ds ? ds->n_file_rows : 0; }

const char *attrib_dataset_text_col(const attrib_dataset *ds) { return ds ? ds->text_col : NULL; }

const char *attrib_dataset_label_col(const attrib_dataset *ds) { return ds ? ds->label_col : NULL; }
