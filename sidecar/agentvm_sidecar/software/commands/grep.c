/* grep: a small POSIX-ish grep for agentvm guests (wasm32-wasi, wasi-libc).
 *
 * The pinned @agentos-software/grep package ships only egrep/fgrep shims that
 * spawn `grep -E` / `grep -F`; this file is that missing `grep`. It is compiled
 * at setup by build.py (zig cc -target wasm32-wasi) and placed in the /bin layer.
 *
 * Regex matching uses the libc's POSIX <regex.h> (musl's TRE in wasi-libc), which
 * also understands the GNU BRE extensions \| \+ \? \< \> \b \w \s. Input is read
 * in big chunks and lines are searched in place, so they may be arbitrarily long;
 * a literal every match needs is first searched across the whole chunk (see the
 * prefilter below), which is why this file is built with wasm SIMD (-msimd128).
 * A NUL byte inside a line ends a regex "segment": matches never span a NUL (GNU
 * treats NULs as line ends in binary files too). Matching is byte-oriented in the
 * C locale.
 *
 * Options: -E -F -G -i -y -v -c -n -l -L -q -s -H -h -o -w -x -r -R -m NUM
 *          -A NUM -B NUM -C NUM -NUM -e PATTERN -f FILE -a (accepted) -I
 *          --include=GLOB --exclude=GLOB --exclude-dir=GLOB --color[=WHEN]
 *          long spellings of the above (--ignore-case, --count, ...), `--`.
 * Exit status: 0 a line was selected, 1 none, 2 an error (unless -q and a match).
 */
#define _GNU_SOURCE /* memrchr */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every path is resolved against the process's cwd inside the libc (chdir from
 * $PWD in main), so the runtime gives this program one preopen, "/", and
 * /tmp/x is the VM's /tmp/x even in a project with a tmp/ of its own
 * (wasm/plain_preopens.py). */
__attribute__((export_name("agentvm_absolute_paths"))) void agentvm_absolute_paths(void) {}

enum { MODE_BRE, MODE_ERE, MODE_FIXED };
enum { LIST_NONE, LIST_MATCHING, LIST_NONMATCHING };

struct pattern {
    char *text; /* for -F: the (lower-cased with -i) needle */
    size_t len;
    regex_t re;
};

static struct pattern *patterns;
static size_t npatterns, cap_patterns;
static int have_patterns; /* -e or -f given */

static int mode = MODE_BRE;
static int opt_i, opt_v, opt_c, opt_n, opt_q, opt_s, opt_o, opt_w, opt_x;
static int opt_recursive;   /* 0, 'r' or 'R' */
static int opt_list = LIST_NONE;
static int opt_with_filename = -1; /* -1: decide from the operands */
static int opt_binary_text;        /* -a: binary input is searched and printed as text */
static int opt_skip_binary;        /* -I */
static long opt_max = -1;          /* -m */
static long opt_after, opt_before;

static char **includes, **excludes, **exclude_dirs;
static size_t nincludes, nexcludes, nexclude_dirs;

static int had_error;
static int any_selected;
static int printed_something; /* for the "--" context group separator */

static void usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("grep: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"
          "Try 'grep --help' for more information.\n", stderr);
    exit(2);
}

static void file_error(const char *name, int err) {
    had_error = 1;
    if (!opt_s)
        fprintf(stderr, "grep: %s: %s\n", name, strerror(err));
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("grep: memory exhausted\n", stderr);
        exit(2);
    }
    return q;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void push_glob(char ***list, size_t *n, const char *glob) {
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = (char *)glob;
}

/* One pattern string may hold several newline-separated patterns (as GNU grep). */
static void add_patterns(const char *s, size_t len) {
    const char *end = s + len;
    for (;;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        if (npatterns == cap_patterns) {
            cap_patterns = cap_patterns ? cap_patterns * 2 : 8;
            patterns = xrealloc(patterns, cap_patterns * sizeof *patterns);
        }
        patterns[npatterns].text = xstrndup(s, (size_t)(stop - s));
        patterns[npatterns].len = (size_t)(stop - s);
        npatterns++;
        if (!nl)
            break;
        s = nl + 1;
    }
}

static void add_pattern_file(const char *name) {
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f) {
        fprintf(stderr, "grep: %s: %s\n", name, strerror(errno));
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        add_patterns(line, (size_t)n);
    }
    free(line);
    if (f != stdin)
        fclose(f);
}

/* A BRE/ERE pattern without any special character matches exactly its own bytes,
 * so it is searched as a fixed string: musl's TRE runs per line in wasm and is
 * 20x slower than host grep on the plain words agents grep for most. A BRE '{'
 * is literal; in an ERE it may start an interval, so it keeps the regex path. */
static int is_literal(const char *text, size_t len) {
    const char *special = mode == MODE_ERE ? "\\.[]*^$+?(){}|" : "\\.[]*^$";
    for (size_t j = 0; j < len; j++)
        if (strchr(special, text[j]) || text[j] == 0)
            return 0;
    return 1;
}

static void build_prefilter(void);

static void compile_patterns(void) {
    if (mode != MODE_FIXED) {
        int all_literal = 1;
        for (size_t k = 0; k < npatterns && all_literal; k++)
            all_literal = is_literal(patterns[k].text, patterns[k].len);
        if (all_literal)
            mode = MODE_FIXED;
    }
    for (size_t k = 0; k < npatterns; k++) {
        struct pattern *p = &patterns[k];
        if (mode == MODE_FIXED) {
            if (opt_i)
                for (size_t j = 0; j < p->len; j++)
                    p->text[j] = (char)tolower((unsigned char)p->text[j]);
            continue;
        }
        int flags = (mode == MODE_ERE ? REG_EXTENDED : 0) | (opt_i ? REG_ICASE : 0);
        int rc = regcomp(&p->re, p->text, flags);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &p->re, msg, sizeof msg);
            fprintf(stderr, "grep: %s\n", msg);
            exit(2);
        }
    }
    build_prefilter();
}

/* First occurrence of needle[0..m) in hay[0..n): memchr for the first byte, then
 * memcmp. Lines are short, so this beats memmem, whose two-way search builds
 * 2 KiB of tables on every call. */
static const char *find_fixed(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0)
        return hay;
    const char *end = hay + n;
    while ((size_t)(end - hay) >= m) {
        const char *c = memchr(hay, (unsigned char)needle[0], (size_t)(end - hay) - m + 1);
        if (!c)
            return NULL;
        if (memcmp(c + 1, needle + 1, m - 1) == 0)
            return c;
        hay = c + 1;
    }
    return NULL;
}

static int is_word(unsigned char c) { return isalnum(c) || c == '_'; }

/* Leftmost(-longest) raw match of p in line[from..len), len being a NUL byte.
 * `noteol`: line[len] is not the real end of the line. */
static int raw_match(struct pattern *p, char *line, size_t len, size_t from, int noteol,
                     size_t *so, size_t *eo) {
    size_t pos = from;
    while (pos <= len) {
        size_t segend = pos + strnlen(line + pos, len - pos);
        if (mode == MODE_FIXED) {
            if (!opt_i) {
                const char *hit = find_fixed(line + pos, segend - pos, p->text, p->len);
                if (hit) {
                    *so = (size_t)(hit - line);
                    *eo = *so + p->len;
                    return 1;
                }
            } else if (p->len <= segend - pos) {
                for (size_t i = pos; i + p->len <= segend; i++) {
                    size_t j = 0;
                    if (opt_i)
                        while (j < p->len && tolower((unsigned char)line[i + j]) == (unsigned char)p->text[j])
                            j++;
                    else
                        while (j < p->len && line[i + j] == p->text[j])
                            j++;
                    if (j == p->len) {
                        *so = i;
                        *eo = i + p->len;
                        return 1;
                    }
                }
            }
        } else {
            regmatch_t m[1];
            int flags = (pos > 0 ? REG_NOTBOL : 0) | (segend < len || noteol ? REG_NOTEOL : 0);
            if (regexec(&p->re, line + pos, 1, m, flags) == 0) {
                *so = pos + (size_t)m[0].rm_so;
                *eo = pos + (size_t)m[0].rm_eo;
                return 1;
            }
        }
        pos = segend + 1;
    }
    return 0;
}

static int word_ok(const char *line, size_t len, size_t so, size_t eo) {
    return (so == 0 || !is_word((unsigned char)line[so - 1])) &&
           (eo == len || !is_word((unsigned char)line[eo]));
}

/* First match of one pattern at or after `from`, honouring -x and -w. */
static int pattern_match(struct pattern *p, char *line, size_t len, size_t from, size_t *so,
                         size_t *eo) {
    size_t s, e;
    if (opt_x) {
        if (from > 0 || !raw_match(p, line, len, 0, 0, &s, &e) || s != 0 || e != len)
            return 0;
        *so = 0;
        *eo = len;
        return 1;
    }
    if (!opt_w)
        return raw_match(p, line, len, from, 0, so, eo);
    size_t pos = from;
    while (pos <= len && raw_match(p, line, len, pos, 0, &s, &e)) {
        if (word_ok(line, len, s, e)) {
            *so = s;
            *eo = e;
            return 1;
        }
        /* As GNU grep: try shorter matches at the same start before moving on. */
        size_t t = e;
        while (t > s) {
            t--;
            char saved = line[t];
            size_t s2, e2;
            line[t] = 0;
            int found = raw_match(p, line, t, s, 1, &s2, &e2) && s2 == s;
            line[t] = saved;
            if (!found)
                break;
            if (word_ok(line, len, s2, e2)) {
                *so = s2;
                *eo = e2;
                return 1;
            }
            t = e2;
        }
        pos = s + 1;
    }
    return 0;
}

/* Leftmost, then longest, match of any pattern at or after `from`. */
static int find_match(char *line, size_t len, size_t from, size_t *so, size_t *eo) {
    int found = 0;
    for (size_t k = 0; k < npatterns; k++) {
        size_t s, e;
        if (pattern_match(&patterns[k], line, len, from, &s, &e) &&
            (!found || s < *so || (s == *so && e > *eo))) {
            *so = s;
            *eo = e;
            found = 1;
        }
    }
    return found;
}

/* ---- prefilter: whole-buffer search for a literal every match contains ------
 *
 * Matching line by line costs a line split, a strnlen and a search per line. When
 * every pattern has a literal that each of its matches must contain (the pattern
 * itself for -F or a plain word; for a simple regex, its longest run of literal
 * characters), the input buffer is searched for those literals as a whole, and
 * only a line holding one of them is handed to find_match. A line without any is
 * known not to match, so the prefilter only decides which lines are looked at:
 * what is selected and printed is still find_match's answer. The search compares
 * two of the literal's rarest bytes 16 positions at a time (wasm SIMD), then the
 * whole literal. */
#include <wasm_simd128.h>

struct needle {
    unsigned char *bytes; /* lower-cased when folding */
    size_t len;
    size_t rare1, rare2;   /* offsets of two rare bytes in `bytes` */
    unsigned char fold1, fold2; /* 0x20 when that byte is a folded letter, else 0 */
    const char *next;      /* cached next occurrence in the current region, or NULL */
    int next_valid;
};

static struct needle *needles; /* one per pattern; NULL: no prefilter */
static int fold_needles;       /* -i: compare ASCII letters case-blind (as tolower and REG_ICASE in the C locale) */
static unsigned char fold_table[256];

/* Bytes roughly from most to least common in source code and text; a byte not
 * listed counts as the rarest. */
static const char common_bytes[] = " etaoinsrlcdhupmfgy._,()=\t\"'bwvk:;-/x0123456789";

static size_t byte_rank(unsigned char c) {
    const char *at = c ? strchr(common_bytes, c) : NULL;
    return at ? (size_t)(at - common_bytes) : sizeof common_bytes;
}

/* The longest run of bytes that every match of the BRE/ERE `re` contains, written
 * to `out` (room for strlen(re) bytes); 0 when none is known. Conservative: any
 * alternation or group gives up, and a literal followed by a quantifier, as well as
 * every bracket, escape class, anchor or back-reference, ends a run. */
static size_t required_literal(const char *re, int ere, unsigned char *out) {
    size_t len = strlen(re), best = 0, cur = 0;
    unsigned char *run = xrealloc(NULL, len + 1);
    int prev_literal = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)re[i], lit = 0;
        int is_lit = 0, quantifier = 0;
        size_t next = i + 1;
        if (ere && strchr("|()", c))
            goto unknown;
        if (c == '\\') {
            if (i + 1 >= len)
                goto unknown;
            unsigned char d = (unsigned char)re[i + 1];
            next = i + 2;
            if (!ere && strchr("|()", d))
                goto unknown;
            if (!ere && (d == '?' || d == '+')) {
                quantifier = 1;
            } else if (!ere && d == '{') {
                const char *close = strstr(re + next, "\\}");
                if (!close)
                    goto unknown;
                quantifier = 1;
                next = (size_t)(close - re) + 2;
            } else if (strchr(".[]*^$\\", d) || (ere && strchr("+?{}", d))) {
                is_lit = 1;
                lit = d;
            }
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < len && re[j] == '^')
                j++;
            if (j < len && re[j] == ']')
                j++;
            while (j < len && re[j] != ']') {
                if (re[j] == '[' && j + 1 < len && strchr(":.=", re[j + 1])) {
                    const char *close = strstr(re + j + 2, (char[]){re[j + 1], ']', 0});
                    if (!close)
                        goto unknown;
                    j = (size_t)(close - re) + 2;
                } else {
                    j++;
                }
            }
            if (j >= len)
                goto unknown;
            next = j + 1;
        } else if (c == '*' || (ere && (c == '?' || c == '+'))) {
            quantifier = 1;
        } else if (ere && c == '{') {
            const char *close = strchr(re + next, '}');
            if (!close)
                goto unknown;
            quantifier = 1;
            next = (size_t)(close - re) + 1;
        } else if (c != '.' && c != '^' && c != '$') {
            is_lit = 1;
            lit = c;
        }
        if (quantifier && prev_literal)
            cur--; /* the literal before a quantifier is optional */
        if (is_lit) {
            run[cur++] = lit;
        } else {
            if (cur > best) {
                best = cur;
                memcpy(out, run, cur);
            }
            cur = 0;
        }
        prev_literal = is_lit;
        i = next;
    }
    if (cur > best) {
        best = cur;
        memcpy(out, run, cur);
    }
    free(run);
    return best;
unknown:
    free(run);
    return 0;
}

static void choose_rare_bytes(struct needle *nd) {
    size_t r1 = 0, r2 = 0;
    for (size_t j = 1; j < nd->len; j++)
        if (byte_rank(nd->bytes[j]) > byte_rank(nd->bytes[r1]))
            r1 = j;
    r2 = r1 == 0 ? nd->len - 1 : 0;
    for (size_t j = 0; j < nd->len; j++)
        if (j != r1 && byte_rank(nd->bytes[j]) > byte_rank(nd->bytes[r2]))
            r2 = j;
    nd->rare1 = r1;
    nd->rare2 = r2;
    nd->fold1 = fold_needles && islower(nd->bytes[r1]) ? 0x20 : 0;
    nd->fold2 = fold_needles && islower(nd->bytes[r2]) ? 0x20 : 0;
}

/* Called once the patterns are compiled: a needle per pattern, or none at all. */
static void build_prefilter(void) {
    fold_needles = opt_i;
    for (int c = 0; c < 256; c++)
        fold_table[c] = (unsigned char)(opt_i ? tolower(c) : c);
    struct needle *list = xrealloc(NULL, npatterns * sizeof *list);
    for (size_t k = 0; k < npatterns; k++) {
        struct needle *nd = &list[k];
        memset(nd, 0, sizeof *nd);
        if (mode == MODE_FIXED) {
            nd->bytes = xrealloc(NULL, patterns[k].len + 1);
            memcpy(nd->bytes, patterns[k].text, patterns[k].len);
            nd->len = memchr(patterns[k].text, 0, patterns[k].len) ? 0 : patterns[k].len;
        } else {
            nd->bytes = xrealloc(NULL, strlen(patterns[k].text) + 1);
            nd->len = required_literal(patterns[k].text, mode == MODE_ERE, nd->bytes);
        }
        if (nd->len == 0) { /* this pattern may match any line: no prefilter */
            for (size_t j = 0; j <= k; j++)
                free(list[j].bytes);
            free(list);
            return;
        }
        for (size_t j = 0; j < nd->len; j++)
            nd->bytes[j] = fold_table[nd->bytes[j]];
        choose_rare_bytes(nd);
    }
    needles = list;
}

static int needle_at(const struct needle *nd, const unsigned char *at) {
    if (!fold_needles)
        return memcmp(at, nd->bytes, nd->len) == 0;
    for (size_t j = 0; j < nd->len; j++)
        if (fold_table[at[j]] != nd->bytes[j])
            return 0;
    return 1;
}

/* First occurrence of the needle in hay[0..n), or NULL. */
static const char *find_needle(const struct needle *nd, const char *hay, size_t n) {
    if (n < nd->len)
        return NULL;
    const unsigned char *h = (const unsigned char *)hay;
    size_t last = n - nd->len; /* the last possible start */
    size_t p = 0;
    v128_t want1 = wasm_i8x16_splat((int8_t)nd->bytes[nd->rare1]);
    v128_t want2 = wasm_i8x16_splat((int8_t)nd->bytes[nd->rare2]);
    v128_t fold1 = wasm_i8x16_splat((int8_t)nd->fold1), fold2 = wasm_i8x16_splat((int8_t)nd->fold2);
    /* 16 starts p..p+15 at once; the loads end at p+15+rare <= last+rare < n. */
    for (; p + 15 <= last; p += 16) {
        v128_t c1 = wasm_v128_or(wasm_v128_load(h + p + nd->rare1), fold1);
        v128_t c2 = wasm_v128_or(wasm_v128_load(h + p + nd->rare2), fold2);
        uint32_t hits = wasm_i8x16_bitmask(wasm_v128_and(wasm_i8x16_eq(c1, want1), wasm_i8x16_eq(c2, want2)));
        for (; hits; hits &= hits - 1) {
            size_t at = p + (size_t)__builtin_ctz(hits);
            if (needle_at(nd, h + at))
                return hay + at;
        }
    }
    for (; p <= last; p++)
        if (needle_at(nd, h + p))
            return hay + p;
    return NULL;
}

/* Lines in [0..n) (each ends with '\n' except perhaps the last). */
static long count_lines(const char *s, size_t n) {
    const unsigned char *b = (const unsigned char *)s;
    long lines = 0;
    size_t p = 0;
    v128_t nl = wasm_i8x16_splat('\n');
    for (; p + 16 <= n; p += 16)
        lines += __builtin_popcount(wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(b + p), nl)));
    for (; p < n; p++)
        lines += b[p] == '\n';
    return lines + (n > 0 && b[n - 1] != '\n');
}

/* Start the cached occurrences afresh (the buffer's contents moved). */
static void reset_needles(void) {
    for (size_t k = 0; needles && k < npatterns; k++)
        needles[k].next_valid = 0;
}

/* Offset in region[0..n) of the first line that holds a needle, or n. The region
 * holds whole lines; a needle never contains '\n', so it never spans two lines. */
static size_t next_candidate(const char *region, size_t n) {
    const char *first = NULL;
    for (size_t k = 0; k < npatterns; k++) {
        struct needle *nd = &needles[k];
        if (!nd->next_valid || (nd->next && nd->next < region)) {
            nd->next = find_needle(nd, region, n);
            nd->next_valid = 1;
        }
        if (nd->next && (!first || nd->next < first))
            first = nd->next;
    }
    if (!first)
        return n;
    size_t at = (size_t)(first - region);
    while (at > 0 && region[at - 1] != '\n')
        at--;
    return at;
}

/* ---- output ------------------------------------------------------------- */

static int show_filename;

struct held_line { /* a -B context line */
    char *text;
    size_t len;
    long lineno;
};

static void print_prefix(const char *name, long lineno, char sep) {
    if (show_filename) {
        fputs(name, stdout);
        putchar(sep);
    }
    if (opt_n) {
        char digits[24];
        size_t at = sizeof digits;
        digits[--at] = sep;
        do
            digits[--at] = (char)('0' + lineno % 10);
        while ((lineno /= 10) > 0);
        fwrite(digits + at, 1, sizeof digits - at, stdout);
    }
}

static void print_line(const char *name, long lineno, char sep, const char *line, size_t len) {
    print_prefix(name, lineno, sep);
    fwrite(line, 1, len, stdout);
    putchar('\n');
}

/* ---- input -------------------------------------------------------------- */

/* wasi-libc's stdio buffers BUFSIZ (1 KiB): every KiB of input would be a host
 * call, and a host call costs microseconds where a host syscall costs nanoseconds.
 * GNU grep reads 96 KiB at a time; files are read here with read(2) into one
 * buffer of at least 64 KiB (files are searched one at a time, so one serves all),
 * which grows to hold a longer line, and lines are searched where they lie. */
#define INPUT_BUFFER (64 * 1024)
static char *input;
static size_t input_cap;
/* A NUL byte has been read from the current input: it is binary from here on.
 * As GNU grep (3.5 on), output stops where a read brings the first NUL in; a
 * line selected after that ends the file's search with "binary file matches"
 * on stderr. Lines printed before that read stay printed. */
static int input_binary;

/* Binary input treated as binary (no -a): NULs end lines, output is suppressed. */
static int binary_mode(void) { return input_binary && !opt_binary_text; }

struct reader {
    int fd;
    size_t pos, filled; /* unread data: input[pos..filled) */
    int eof, err;
};

/* Read once more after the unread data (moved to the front first), growing the
 * buffer when it is full. One byte is always kept spare, for a line's NUL. */
static void refill(struct reader *r) {
    if (r->pos > 0) {
        memmove(input, input + r->pos, r->filled - r->pos);
        r->filled -= r->pos;
        r->pos = 0;
    }
    if (r->filled + 1 >= input_cap) {
        input_cap = input_cap ? input_cap * 2 : INPUT_BUFFER;
        input = xrealloc(input, input_cap);
    }
    ssize_t got;
    do
        got = read(r->fd, input + r->filled, input_cap - 1 - r->filled);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        r->eof = 1;
        r->err = got < 0 ? errno : 0;
    } else {
        if (memchr(input + r->filled, 0, (size_t)got))
            input_binary = 1;
        r->filled += (size_t)got;
    }
}

/* The end of the whole lines now in the buffer from r->pos on (the unterminated
 * last line counts at end of file); r->pos when the input is used up. */
static size_t whole_lines(struct reader *r) {
    size_t from = r->pos; /* input[r->pos..from) holds no '\n' */
    for (;;) {
        if (from < r->filled) {
            const char *nl = memrchr(input + from, '\n', r->filled - from);
            if (nl)
                return (size_t)(nl - input) + 1;
        }
        if (r->eof)
            return r->filled;
        from = r->filled - r->pos; /* where the unread data ends once refill moved it to the front */
        refill(r);
        reset_needles();
    }
}

/* The next line (without its '\n', NUL-terminated in place); 0 at end of input. */
static int next_line(struct reader *r, char **line, size_t *len) {
    size_t lim = whole_lines(r);
    if (lim == r->pos)
        return 0;
    char *start = input + r->pos;
    char *nl = memchr(start, '\n', lim - r->pos);
    *len = nl ? (size_t)(nl - start) : lim - r->pos;
    r->pos += *len + (nl != NULL);
    start[*len] = 0;
    *line = start;
    return 1;
}

/* -I: the file starts with a NUL byte among its first 4 KiB. */
static int starts_binary(struct reader *r) {
    while (!r->eof && r->filled - r->pos < 4096)
        refill(r);
    size_t n = r->filled - r->pos;
    return memchr(input + r->pos, 0, n < 4096 ? n : 4096) != NULL;
}

/* ---- searching one input ------------------------------------------------ */

struct scan {
    const char *name;
    long lineno, selected, last_printed, after_left;
    int output_lines, use_context;
    struct held_line *held;
    size_t nheld, held_start;
};

/* One line, NUL-terminated at line[len]; `matched` is -1 when find_match must
 * decide, 0 when the prefilter already knows the line does not match;
 * `terminated`: a '\n' ended it (not the end of the input). Returns 1 when the
 * search of this input ends here. */
static int handle_one_line(struct scan *s, char *line, size_t len, int matched);

static int handle_line(struct scan *s, char *line, size_t len, int matched, int terminated) {
    if (binary_mode()) {
        /* GNU grep takes a NUL in binary input for a line end (what -v, -x and -c
         * select and count; its output is suppressed by then anyway), so a NUL
         * that ends the input ends its last line, as a '\n' would */
        char *nul;
        while ((nul = memchr(line, 0, len)) != NULL) {
            size_t first = (size_t)(nul - line);
            if (handle_one_line(s, line, first, matched))
                return 1;
            line = nul + 1;
            len -= first + 1;
            if (!len && !terminated)
                return 0;
        }
    }
    return handle_one_line(s, line, len, matched);
}

static int handle_one_line(struct scan *s, char *line, size_t len, int matched) {
    s->lineno++;
    size_t so = 0, eo = 0;
    if (matched < 0)
        matched = find_match(line, len, 0, &so, &eo);
    int suppressed = binary_mode();
    if (matched == opt_v) {
        /* not selected: maybe a context line */
        if (!s->use_context || suppressed)
            return 0;
        if (s->after_left > 0) {
            print_line(s->name, s->lineno, '-', line, len);
            s->last_printed = s->lineno;
            s->after_left--;
        } else if (opt_before > 0) {
            struct held_line *h = &s->held[(s->held_start + s->nheld) % (size_t)opt_before];
            if (s->nheld == (size_t)opt_before) {
                h = &s->held[s->held_start];
                s->held_start = (s->held_start + 1) % (size_t)opt_before;
                s->nheld--;
            }
            h->text = xrealloc(h->text, len + 1);
            memcpy(h->text, line, len);
            h->len = len;
            h->lineno = s->lineno;
            s->nheld++;
        }
        return 0;
    }
    s->selected++;
    any_selected = 1;
    if (opt_q) {
        fflush(stdout);
        exit(0);
    }
    if (opt_list != LIST_NONE)
        return 1; /* one selected line decides -l / -L */
    if (s->output_lines) {
        if (suppressed) {
            fflush(stdout);
            fprintf(stderr, "grep: %s: binary file matches\n", s->name);
            return 1;
        }
        if (s->use_context) {
            long first = s->nheld ? s->held[s->held_start].lineno : s->lineno;
            if (printed_something && s->last_printed != first - 1)
                fputs("--\n", stdout);
            for (size_t k = 0; k < s->nheld; k++) {
                struct held_line *h = &s->held[(s->held_start + k) % (size_t)opt_before];
                print_line(s->name, h->lineno, '-', h->text, h->len);
            }
            s->nheld = s->held_start = 0;
            s->after_left = opt_after;
        }
        printed_something = 1;
        s->last_printed = s->lineno;
        if (!opt_o) {
            print_line(s->name, s->lineno, ':', line, len);
        } else if (!opt_v) {
            size_t from = 0;
            while (from <= len && find_match(line, len, from, &so, &eo)) {
                if (eo == so) { /* empty matches are not printed */
                    from = so + 1;
                    continue;
                }
                print_line(s->name, s->lineno, ':', line + so, eo - so);
                from = eo;
            }
        }
    }
    return opt_max >= 0 && s->selected >= opt_max;
}

/* Whole lines region[0..n) that hold no needle, so match no pattern. Returns how
 * much was consumed: all of it unless the search of this input ended (*stop). */
static size_t skip_lines(struct scan *s, char *region, size_t n, int *stop) {
    if (!opt_v && !s->use_context) {
        s->lineno += count_lines(region, n); /* nothing else happens to them */
        return n;
    }
    size_t done = 0;
    while (done < n && !*stop) {
        char *line = region + done;
        char *nl = memchr(line, '\n', n - done);
        size_t len = nl ? (size_t)(nl - line) : n - done;
        done += len + (nl != NULL);
        line[len] = 0;
        *stop = handle_line(s, line, len, 0, nl != NULL);
    }
    return done;
}

/* Search one open input. With
 * `skip_if_binary` (-I on a file), an input starting binary is not searched. */
static void grep_fd(int fd, const char *name, int skip_if_binary) {
    struct reader r = {fd, 0, 0, 0, 0};
    struct scan s = {name, 0, 0, -1, 0, 0, 0, NULL, 0, 0};
    s.output_lines = !opt_q && opt_list == LIST_NONE && !opt_c;
    s.use_context = s.output_lines && !opt_o && (opt_after > 0 || opt_before > 0);
    input_binary = 0;
    if (skip_if_binary && starts_binary(&r))
        return;
    if (s.use_context && opt_before > 0) {
        s.held = xrealloc(NULL, (size_t)opt_before * sizeof *s.held);
        memset(s.held, 0, (size_t)opt_before * sizeof *s.held);
    }
    reset_needles();
    int stop = opt_max == 0;
    while (!stop) {
        size_t lim = whole_lines(&r);
        if (lim == r.pos)
            break;
        while (!stop && r.pos < lim) {
            char *line = input + r.pos;
            size_t avail = lim - r.pos;
            size_t skip = needles ? next_candidate(line, avail) : 0;
            if (skip > 0) {
                r.pos += skip_lines(&s, line, skip, &stop);
                continue;
            }
            char *nl = memchr(line, '\n', avail);
            size_t len = nl ? (size_t)(nl - line) : avail;
            r.pos += len + (nl != NULL);
            line[len] = 0;
            stop = handle_line(&s, line, len, -1, nl != NULL);
        }
    }
    /* With -m, GNU grep still prints the trailing context of the last match,
     * whether or not those lines would match. */
    if (s.use_context && opt_max >= 0 && s.selected >= opt_max) {
        char *line;
        size_t len;
        while (s.after_left-- > 0 && next_line(&r, &line, &len))
            print_line(name, ++s.lineno, '-', line, len);
    }
    if (r.err)
        file_error(name, r.err);
    if (s.held) {
        for (long k = 0; k < opt_before; k++)
            free(s.held[k].text);
        free(s.held);
    }

    if (opt_c && !opt_q && opt_list == LIST_NONE) {
        if (show_filename)
            printf("%s:", name);
        printf("%ld\n", s.selected);
    }
    if (opt_list == LIST_MATCHING && s.selected > 0)
        printf("%s\n", name);
    if (opt_list == LIST_NONMATCHING && s.selected == 0)
        printf("%s\n", name);
}

static char output_buffer[64 * 1024];

/* Search the file at `path`, naming it `display` in output and errors. */
static void grep_file(const char *path, const char *display) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        file_error(display, errno);
        return;
    }
    grep_fd(fd, display, opt_skip_binary);
    close(fd);
}

static int glob_listed(char **list, size_t n, const char *name) {
    for (size_t k = 0; k < n; k++)
        if (fnmatch(list[k], name, 0) == 0)
            return 1;
    return 0;
}

static int file_wanted(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (nincludes && !glob_listed(includes, nincludes, base))
        return 0;
    return !glob_listed(excludes, nexcludes, base);
}

struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
};

static void grep_tree(const char *path, const char *display, unsigned char type, const struct ancestor *up);

static char *join_path(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = xrealloc(NULL, dl + slash + nl + 1);
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

struct entry {
    char *name;
    unsigned char type; /* d_type from the listing */
};

static int compare_names(const void *a, const void *b) {
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Walk a directory. `path` is what we open; `display` is how names are printed
 * ("" for the implicit "." of `grep -r PATTERN`, so names print as `sub/file`). */
static void grep_dir(const char *path, const char *display, const struct stat *st,
                     const struct ancestor *up) {
    for (const struct ancestor *a = up; a; a = a->up)
        if (a->dev == st->st_dev && a->ino == st->st_ino && st->st_ino != 0) {
            if (!opt_s)
                fprintf(stderr, "grep: %s: warning: recursive directory loop\n", path);
            return;
        }
    struct ancestor self = {st->st_dev, st->st_ino, up};
    DIR *d = opendir(path);
    if (!d) {
        file_error(path, errno);
        return;
    }
    struct entry *entries = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        entries = xrealloc(entries, (n + 1) * sizeof *entries);
        entries[n].name = xstrndup(de->d_name, strlen(de->d_name));
        entries[n++].type = de->d_type;
    }
    closedir(d);
    qsort(entries, n, sizeof *entries, compare_names); /* deterministic output order */
    for (size_t k = 0; k < n; k++) {
        const char *name = entries[k].name;
        char *child = join_path(path, name);
        char *child_display = *display ? join_path(display, name) : xstrndup(name, strlen(name));
        grep_tree(child, child_display, entries[k].type, &self);
        free(child);
        free(child_display);
        free(entries[k].name);
    }
    free(entries);
}

/* A path met during recursion (not a command-line operand), of the type its
 * directory listing gave. A regular file is opened without a stat first: the
 * stat would be a host call per file only to learn what the listing said. */
static void grep_tree(const char *path, const char *display, unsigned char type, const struct ancestor *up) {
    if (type == DT_REG) {
        if (file_wanted(path))
            grep_file(path, display);
        return;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        file_error(display, errno);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (opt_recursive == 'r')
            return; /* -r follows symlinks only on the command line (as GNU grep) */
        if (stat(path, &st) != 0) {
            file_error(display, errno);
            return;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!glob_listed(exclude_dirs, nexclude_dirs, base))
            grep_dir(path, display, &st, up);
        return;
    }
    if (!S_ISREG(st.st_mode))
        return; /* devices, fifos, sockets: skipped while recursing */
    if (file_wanted(path))
        grep_file(path, display);
}

static void grep_operand(const char *operand) {
    if (strcmp(operand, "-") == 0) {
        grep_fd(STDIN_FILENO, "(standard input)", 0);
        return;
    }
    struct stat st;
    if (stat(operand, &st) != 0) {
        file_error(operand, errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (opt_recursive) {
            if (opt_with_filename < 0)
                show_filename = 1; /* `grep -r x dir` names files, `grep -r x file` not */
            grep_dir(operand, operand, &st, NULL);
        }
        else
            file_error(operand, EISDIR);
        return;
    }
    if (opt_recursive && !file_wanted(operand))
        return;
    grep_file(operand, operand);
}

/* ---- options ------------------------------------------------------------ */

static long parse_number(const char *opt, const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || errno || v < 0)
        usage_error("invalid %s argument: '%s'", opt, s);
    return v;
}

/* Short options taking an argument. */
static int takes_arg(char c) { return strchr("efmABCd", c) != NULL; }

static void short_option(char c, const char *arg) {
    switch (c) {
    case 'E': mode = MODE_ERE; break;
    case 'F': mode = MODE_FIXED; break;
    case 'G': mode = MODE_BRE; break;
    case 'i': case 'y': opt_i = 1; break;
    case 'v': opt_v = 1; break;
    case 'c': opt_c = 1; break;
    case 'n': opt_n = 1; break;
    case 'l': opt_list = LIST_MATCHING; break;
    case 'L': opt_list = LIST_NONMATCHING; break;
    case 'q': opt_q = 1; break;
    case 's': opt_s = 1; break;
    case 'H': opt_with_filename = 1; break;
    case 'h': opt_with_filename = 0; break;
    case 'o': opt_o = 1; break;
    case 'w': opt_w = 1; break;
    case 'x': opt_x = 1; break;
    case 'r': case 'R': opt_recursive = c; break;
    case 'a': opt_binary_text = 1; break;
    case 'I': opt_skip_binary = 1; break;
    case 'U': break; /* binary mode: meaningless here */
    case 'e': add_patterns(arg, strlen(arg)); have_patterns = 1; break;
    case 'f': add_pattern_file(arg); have_patterns = 1; break;
    case 'm': opt_max = parse_number("-m", arg); break;
    case 'A': opt_after = parse_number("-A", arg); break;
    case 'B': opt_before = parse_number("-B", arg); break;
    case 'C': opt_after = opt_before = parse_number("-C", arg); break;
    case 'd':
        if (strcmp(arg, "recurse") == 0)
            opt_recursive = opt_recursive ? opt_recursive : 'r';
        break;
    default: usage_error("invalid option -- '%c'", c);
    }
}

struct long_option {
    const char *name;
    char short_equivalent; /* 0: handled specially */
    int has_arg;           /* 0 none, 1 required, 2 optional (=WHEN) */
};

static const struct long_option long_options[] = {
    {"extended-regexp", 'E', 0}, {"fixed-strings", 'F', 0}, {"basic-regexp", 'G', 0},
    {"ignore-case", 'i', 0}, {"invert-match", 'v', 0}, {"count", 'c', 0},
    {"line-number", 'n', 0}, {"files-with-matches", 'l', 0},
    {"files-without-match", 'L', 0}, {"quiet", 'q', 0}, {"silent", 'q', 0},
    {"no-messages", 's', 0}, {"with-filename", 'H', 0}, {"no-filename", 'h', 0},
    {"only-matching", 'o', 0}, {"word-regexp", 'w', 0}, {"line-regexp", 'x', 0},
    {"recursive", 'r', 0}, {"dereference-recursive", 'R', 0}, {"text", 'a', 0},
    {"binary", 'U', 0}, {"regexp", 'e', 1}, {"file", 'f', 1}, {"max-count", 'm', 1},
    {"after-context", 'A', 1}, {"before-context", 'B', 1}, {"context", 'C', 1},
    {"directories", 'd', 1}, {"include", 0, 1}, {"exclude", 0, 1}, {"exclude-dir", 0, 1},
    {"color", 0, 2}, {"colour", 0, 2}, {"no-ignore-case", 0, 0},
    {NULL, 0, 0},
};

/* Returns how many argv entries were consumed. */
static int long_option(int argc, char **argv, int i) {
    const char *spec = argv[i] + 2;
    const char *eq = strchr(spec, '=');
    size_t namelen = eq ? (size_t)(eq - spec) : strlen(spec);
    const struct long_option *match = NULL;
    for (const struct long_option *o = long_options; o->name; o++) {
        if (strncmp(o->name, spec, namelen) != 0)
            continue;
        if (strlen(o->name) == namelen) {
            match = o;
            break;
        }
        if (match)
            usage_error("option '--%.*s' is ambiguous", (int)namelen, spec);
        match = o; /* unambiguous prefix, as getopt_long */
    }
    if (!match)
        usage_error("unrecognized option '--%.*s'", (int)namelen, spec);
    const char *arg = NULL;
    int used = 1;
    if (match->has_arg == 1) {
        if (eq) {
            arg = eq + 1;
        } else if (i + 1 < argc) {
            arg = argv[i + 1];
            used = 2;
        } else {
            usage_error("option '--%s' requires an argument", match->name);
        }
    } else if (match->has_arg == 0 && eq) {
        usage_error("option '--%s' doesn't allow an argument", match->name);
    }
    if (match->short_equivalent)
        short_option(match->short_equivalent, arg);
    else if (strcmp(match->name, "include") == 0)
        push_glob(&includes, &nincludes, arg);
    else if (strcmp(match->name, "exclude") == 0)
        push_glob(&excludes, &nexcludes, arg);
    else if (strcmp(match->name, "exclude-dir") == 0)
        push_glob(&exclude_dirs, &nexclude_dirs, arg);
    else if (strcmp(match->name, "no-ignore-case") == 0)
        opt_i = 0;
    /* --color[=WHEN]: accepted and ignored (output is never coloured). */
    return used;
}

int main(int argc, char **argv) {
    /* Fully buffered output into a pipe or file, as GNU grep; a terminal keeps
     * line buffering. (Input bypasses stdio: see refill.) */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, output_buffer, _IOFBF, sizeof output_buffer);

    /* wasi-libc keeps its own notion of the cwd, which starts at "/" whatever the
     * process's real cwd is, and resolves relative paths against it. The agentvm host
     * always sets PWD to the process cwd (see wasm/spawn.py), so adopt it here or
     * `cd dir && grep x file` would look for /file. */
    const char *pwd = getenv("PWD");
    if (pwd && *pwd)
        (void)chdir(pwd);

    char **operands = xrealloc(NULL, (size_t)argc * sizeof *operands);
    int noperands = 0;
    int i = 1;
    /* GNU-style permutation: options may follow operands until `--`. */
    while (i < argc) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                operands[noperands++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            operands[noperands++] = a;
            i++;
            continue;
        }
        if (a[1] == '-') {
            i += long_option(argc, argv, i);
            continue;
        }
        if (isdigit((unsigned char)a[1])) { /* -NUM means -C NUM */
            opt_after = opt_before = parse_number("context", a + 1);
           
            i++;
            continue;
        }
        i++;
        for (const char *p = a + 1; *p; p++) {
            if (takes_arg(*p)) {
                const char *arg = p[1] ? p + 1 : NULL;
                if (!arg) {
                    if (i >= argc)
                        usage_error("option requires an argument -- '%c'", *p);
                    arg = argv[i++];
                }
                short_option(*p, arg);
                break;
            }
            short_option(*p, NULL);
        }
    }

    int first_operand = 0;
    if (!have_patterns) {
        if (noperands == 0) {
            fputs("Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                  "Try 'grep --help' for more information.\n", stderr);
            return 2;
        }
        add_patterns(operands[0], strlen(operands[0]));
        first_operand = 1;
    }
    compile_patterns();

    int nfiles = noperands - first_operand;
    show_filename = opt_with_filename >= 0 ? opt_with_filename : (nfiles > 1 || (opt_recursive && nfiles == 0));
    if (nfiles == 0) {
        if (opt_recursive) {
            struct stat st;
            if (stat(".", &st) != 0)
                file_error(".", errno);
            else
                grep_dir(".", "", &st, NULL);
        } else {
            grep_fd(STDIN_FILENO, "(standard input)", 0);
        }
    } else {
        for (int k = first_operand; k < noperands; k++)
            grep_operand(operands[k]);
    }
    if (fflush(stdout) != 0 && !opt_q)
        had_error = 1;
    if (opt_q && any_selected)
        return 0;
    if (had_error)
        return 2;
    /* As GNU grep 3.8, -L too reports whether any line was selected. */
    return any_selected ? 0 : 1;
}
