/* sh: reading the source: blanks, comments, words with their quotes and
   expansions, and here-document bodies. parse.c builds commands from these. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

const char *src;
size_t pos;
int subst_depth; /* inside $(...): its output is captured */

int at(size_t i) { return (unsigned char)src[i]; }
int is_name_start(int c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
int is_name_char(int c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
int is_meta(int c) { return c == 0 || strchr(" \t\n;&|<>()", c) != NULL; }

void skip_blanks(void) {
    for (;;) {
        if (at(pos) == ' ' || at(pos) == '\t') pos++;
        else if (at(pos) == '\\' && at(pos + 1) == '\n') pos += 2;
        else if (at(pos) == '#') {
            while (at(pos) && at(pos) != '\n') pos++;
        } else return;
    }
}

/* `word` at pos as a whole token (a reserved word is one only where a command starts). */
int at_word(const char *word) {
    size_t n = strlen(word);
    return strncmp(src + pos, word, n) == 0 && is_meta(at(pos + n));
}

/* ---- here-documents ---- */

typedef struct {
    Cmd *cmd;
    int redir;
    char *delimiter;
    int strip_tabs, quoted;
} Heredoc;

static Vec pending_heredocs; /* of Heredoc, read at the next newline */

/* Redirection `redir` of `cmd` takes its body from the lines after this one. */
void queue_heredoc(Cmd *cmd, int redir, char *delimiter, int strip_tabs, int quoted) {
    Heredoc *h = xmalloc(sizeof *h);
    *h = (Heredoc){cmd, redir, delimiter, strip_tabs, quoted};
    vec_push(&pending_heredocs, h);
}

int heredocs_pending(void) { return pending_heredocs.n; }

static void parse_dollar(Word *w, int quoted);

/* The bodies of the here-documents of the line just ended, from pos on. */
static void read_heredocs(void) {
    for (int i = 0; i < pending_heredocs.n; i++) {
        Heredoc *h = pending_heredocs.v[i];
        Buf body = {0};
        buf_puts(&body, "");
        for (;;) {
            if (at(pos) == 0) fallback(); /* ended by the end of input */
            size_t end = pos;
            while (at(end) && at(end) != '\n') end++;
            size_t start = pos;
            if (h->strip_tabs)
                while (start < end && at(start) == '\t') start++;
            int last = strlen(h->delimiter) == end - start && memcmp(src + start, h->delimiter, end - start) == 0;
            pos = end + (at(end) == '\n');
            if (last) break;
            buf_putn(&body, src + start, end - start);
            buf_putc(&body, '\n');
        }
        Word *target = &h->cmd->redirs[h->redir].target;
        *target = (Word){0};
        if (h->quoted) {
            target->parts = xmalloc(sizeof(Part));
            target->parts[0] = (Part){P_QLIT, buf_take(&body), NULL};
            target->n = 1;
        } else {
            const char *saved_src = src;
            size_t saved_pos = pos;
            src = body.s;
            pos = 0;
            parse_quoted_text(target, 1);
            src = saved_src;
            pos = saved_pos;
        }
    }
    pending_heredocs.n = 0;
}

static void newline(void) {
    pos++;
    if (pending_heredocs.n) read_heredocs();
}

void skip_newlines(void) {
    for (;;) {
        skip_blanks();
        if (at(pos) != '\n') return;
        newline();
    }
}

/* ---- words ---- */

static void add_part(Word *w, int kind, const char *text, size_t n, List *body) {
    w->parts = xrealloc(w->parts, sizeof(Part) * (size_t)(w->n + 1));
    w->parts[w->n++] = (Part){kind, xstrndup(text, n), body};
}

/* $((...)) at pos (past the `$`): its text is read as in a here-document
   ($NAME, ${...}, $(...) expand; the rest is the expression). */
static void parse_arithmetic(Word *w) {
    size_t start = pos + 2, end = start;
    for (int depth = 0;; end++) {
        if (at(end) == 0) fallback();
        if (at(end) == '(') depth++;
        if (at(end) == ')' && depth-- == 0) break;
    }
    if (at(end + 1) != ')') fallback(); /* $( (...) ) spelled without the blank */
    Param *pm = xmalloc(sizeof *pm);
    *pm = (Param){0};
    const char *saved_src = src;
    char *text = xstrndup(src + start, end - start);
    src = text;
    pos = 0;
    parse_quoted_text(&pm->arg, 1);
    src = saved_src;
    pos = end + 2;
    check_references(&pm->arg);
    Buf probe = {0}; /* the expression with every expansion as 0 */
    buf_puts(&probe, "");
    for (int i = 0; i < pm->arg.n; i++)
        buf_puts(&probe, pm->arg.parts[i].kind == P_QLIT ? pm->arg.parts[i].text : "0");
    if (!arith_supported(probe.s)) fallback();
    free(probe.s);
    add_part(w, P_ARITH, "", 0, NULL);
    w->parts[w->n - 1].param = pm;
}

/* $(...) at pos (past the `$`). */
static List *parse_substitution(void) {
    pos++; /* ( */
    if (at(pos) == '(') fallback(); /* $((arithmetic)) */
    subst_depth++;
    List *body = parse_list();
    subst_depth--;
    skip_blanks();
    if (at(pos) != ')') fallback();
    pos++;
    return body;
}


/* The word of ${NAME<op>word}, up to its `}`: quotes and expansions as in any
   word, blanks kept (an unquoted result is split later). */
static void parse_param_word(Word *w, int quoted) {
    Buf lit = {0};
    for (;;) {
        int c = at(pos);
        if (c == 0 || c == '`' || (c == '\'' && quoted)) fallback(); /* '...' inside "${...}": brush's */
        if (c == '}' || c == '\'' || c == '"' || c == '$' || c == '\\') {
            if (lit.len) add_part(w, quoted ? P_QLIT : P_LIT, lit.s, lit.len, NULL);
            lit.len = 0;
        }
        if (c == '}') {
            pos++;
            break;
        }
        if (c == '\'') {
            const char *end = strchr(src + pos + 1, '\'');
            if (end == NULL) fallback();
            add_part(w, P_QLIT, src + pos + 1, (size_t)(end - (src + pos + 1)), NULL);
            pos = (size_t)(end - src) + 1;
        } else if (c == '"') {
            if (quoted) fallback();
            pos++;
            parse_quoted_text(w, 0);
        } else if (c == '$') {
            parse_dollar(w, quoted);
        } else if (c == '\\') {
            int next = at(pos + 1);
            if (next == 0) fallback();
            if (!quoted || strchr("$`\"\\}", next)) add_part(w, P_QLIT, src + pos + 1, 1, NULL);
            else add_part(w, P_QLIT, src + pos, 2, NULL);
            pos += 2;
        } else {
            if (!quoted && (c == '{' || (strchr("?*+@!", c) && at(pos + 1) == '('))) fallback();
            if (!quoted && (c == '*' || c == '?' || c == '[')) w->dynamic = 1;
            buf_putc(&lit, (char)c);
            pos++;
        }
    }
    free(lit.s);
    if (w->n == 0) add_part(w, P_QLIT, "", 0, NULL);
}

/* Inside ${ (pos past the brace): NULL for a plain ${NAME} (pos past its `}`),
   else the operation; fallback for the rest (${x:1}, ${x/a/b}, ${!x}, ${x:?}...). */
static Param *parse_param(int quoted) {
    Param *pm = xmalloc(sizeof *pm);
    *pm = (Param){0};
    if (at(pos) == '#' && at(pos + 1) != '}') {
        pm->op = OP_LENGTH;
        pos++;
    }
    size_t name = pos;
    if (is_name_start(at(pos))) {
        while (is_name_char(at(pos))) pos++;
    } else if (at(pos) >= '0' && at(pos) <= '9') {
        while (at(pos) >= '0' && at(pos) <= '9') pos++;
    } else if (at(pos) == '?' || at(pos) == '#') {
        pos++;
    }
    if (pos == name) fallback();
    pm->name = xstrndup(src + name, pos - name);
    if (pm->op == OP_LENGTH) {
        if (at(pos) != '}' || !is_name_char(at(name))) fallback(); /* ${#?}, ${##}: brush's */
        pos++;
        return pm;
    }
    if (at(pos) == '}') {
        pos++;
        free(pm->name);
        free(pm);
        return NULL;
    }
    if (at(pos) == ':') {
        pm->colon = 1;
        pos++;
    }
    int c = at(pos++);
    if (c == '-') pm->op = OP_DEFAULT;
    else if (c == '=') pm->op = OP_ASSIGN;
    else if (c == '+') pm->op = OP_ALTERNATE;
    else if (c == '#' && !pm->colon) pm->op = at(pos) == '#' ? (pos++, OP_LONG_PREFIX) : OP_PREFIX;
    else if (c == '%' && !pm->colon) pm->op = at(pos) == '%' ? (pos++, OP_LONG_SUFFIX) : OP_SUFFIX;
    else fallback();
    if (pm->op == OP_ASSIGN && (!is_name_start(at(name)) || is_brush_variable(pm->name, strlen(pm->name))))
        fallback(); /* ${1=x}: brush's error */
    parse_param_word(&pm->arg, quoted);
    check_references(&pm->arg);
    return pm;
}

/* `$` at pos: a parameter we expand here, or fallback. A `$` before nothing that
   could start one is a literal, as in bash. */
static void parse_dollar(Word *w, int quoted) {
    size_t start = ++pos;
    int c = at(pos);
    if (is_name_start(c)) {
        while (is_name_char(at(pos))) pos++;
        add_part(w, quoted ? P_QVAR : P_VAR, src + start, pos - start, NULL);
    } else if (c == '?' || c == '#' || c == '@' || c == '*' || (c >= '0' && c <= '9')) {
        pos++;
        add_part(w, quoted ? P_QVAR : P_VAR, src + start, 1, NULL);
    } else if (c == '{') {
        pos++;
        Param *pm = parse_param(quoted);
        if (pm == NULL) {
            add_part(w, quoted ? P_QVAR : P_VAR, src + start + 1, pos - start - 2, NULL);
        } else {
            add_part(w, quoted ? P_QPARAM : P_PARAM, "", 0, NULL);
            w->parts[w->n - 1].param = pm;
        }
    } else if (c == '(' && at(pos + 1) == '(') {
        parse_arithmetic(w);
    } else if (c == '(') {
        List *body = parse_substitution();
        add_part(w, quoted ? P_QSUBST : P_SUBST, "", 0, body);
    } else if (c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '/' || c == ':' || c == '.' ||
               c == ',' || c == '=' || (quoted && c == '"')) {
        add_part(w, quoted ? P_QLIT : P_LIT, "$", 1, NULL);
    } else {
        fallback(); /* $'...', $"...", $$, $!, $- */
    }
    if (!quoted) w->dynamic = 1;
}

/* The inside of "..." at pos (past the quote), or a here-document's body (to its end). */
/* `...` at pos: the older $(...). Inside, a backslash before $, ` or \ (and "
   within "...") is dropped; the rest is a command parsed as $(...)'s. */
static void parse_backquoted(Word *w, int quoted) {
    Buf inner = {0};
    buf_puts(&inner, "");
    for (pos++;; pos++) {
        int c = at(pos);
        if (c == 0) fallback();
        if (c == '`') break;
        if (c == '\\' && (strchr("$`\\", at(pos + 1)) || (quoted && at(pos + 1) == '"')) && at(pos + 1)) c = at(++pos);
        buf_putc(&inner, (char)c);
    }
    pos++;
    const char *saved_src = src;
    size_t saved_pos = pos;
    src = inner.s;
    pos = 0;
    subst_depth++;
    List *body = parse_list();
    subst_depth--;
    if (at(pos) != 0) fallback();
    src = saved_src;
    pos = saved_pos;
    add_part(w, quoted ? P_QSUBST : P_SUBST, "", 0, body);
    if (!quoted) w->dynamic = 1;
}

void parse_quoted_text(Word *w, int heredoc) {
    Buf lit = {0};
    add_part(w, P_QLIT, "", 0, NULL); /* "" is a word of its own */
    for (;;) {
        int c = at(pos);
        if (c == '`') {
            if (lit.len) add_part(w, P_QLIT, lit.s, lit.len, NULL);
            lit.len = 0;
            parse_backquoted(w, 1);
            continue;
        }
        if (c == 0 && !heredoc) fallback();
        if (c == 0 || (c == '"' && !heredoc)) {
            pos += c != 0;
            break;
        }
        if (c == '\\') {
            int next = at(pos + 1);
            if (next == '\n') {
                pos += 2;
                continue;
            }
            if (next == '$' || next == '`' || next == '\\' || (next == '"' && !heredoc)) {
                buf_putc(&lit, (char)next);
                pos += 2;
                continue;
            }
            buf_putc(&lit, '\\');
            pos++;
            continue;
        }
        if (c == '$') {
            if (lit.len) add_part(w, P_QLIT, lit.s, lit.len, NULL);
            lit.len = 0;
            parse_dollar(w, 1);
            continue;
        }
        buf_putc(&lit, (char)c);
        pos++;
    }
    if (lit.len) add_part(w, P_QLIT, lit.s, lit.len, NULL);
    free(lit.s);
}

/* One word at pos (not at a metacharacter). */
Word parse_word(void) {
    Word w = {0};
    Buf lit = {0};
    if (at(pos) == '~') {
        int next = at(pos + 1);
        if ((next != '/' && !is_meta(next)) || var_find("HOME", 4) == NULL) fallback(); /* ~user */
        add_part(&w, P_TILDE, "", 0, NULL);
        pos++;
    }
    while (!is_meta(at(pos))) {
        int c = at(pos);
        if (c == '\'' || c == '"' || c == '$' || c == '\\') {
            if (lit.len) add_part(&w, P_LIT, lit.s, lit.len, NULL);
            lit.len = 0;
        }
        if (c == '\'') {
            const char *end = strchr(src + pos + 1, '\'');
            if (end == NULL) fallback();
            add_part(&w, P_QLIT, src + pos + 1, (size_t)(end - (src + pos + 1)), NULL);
            pos = (size_t)(end - src) + 1;
        } else if (c == '"') {
            pos++;
            parse_quoted_text(&w, 0);
        } else if (c == '$') {
            parse_dollar(&w, 0);
        } else if (c == '\\') {
            int next = at(pos + 1);
            if (next == 0) fallback();
            if (next != '\n') add_part(&w, P_QLIT, src + pos + 1, 1, NULL);
            pos += 2;
        } else if (c == '`') {
            if (lit.len) add_part(&w, P_LIT, lit.s, lit.len, NULL);
            lit.len = 0;
            parse_backquoted(&w, 0);
        } else {
            /* a glob character; `[` only with a `]` after it (`[ -f x ]` is no pattern) */
            if (c == '*' || c == '?' || (c == '[' && strchr(src + pos + 1, ']') &&
                                          strchr(src + pos + 1, ']') < src + pos + strcspn(src + pos, " \t\n;&|<>()")))
                w.dynamic = 1;
            /* extglob patterns: ?(...) *(...) +(...) @(...) !(...) */
            if (strchr("?*+@!", c) && at(pos + 1) == '(') fallback();
            buf_putc(&lit, (char)c);
            pos++;
        }
    }
    if (lit.len) add_part(&w, P_LIT, lit.s, lit.len, NULL);
    free(lit.s);
    if (w.n == 0) fallback();
    return w;
}

/* A word where brace expansion does not happen (an assignment, a redirection,
   a case pattern): brush's if it has one. */
Word parse_plain_word(void) {
    size_t start = pos;
    Word w = parse_word();
    Vec texts = {0};
    if (memchr(src + start, '{', pos - start) && brace_expand(src + start, pos - start, &texts) != 0) fallback();
    return w;
}

/* A word at pos into `words` (of Word*), brace-expanded: `a{b,c}` is two. */
void parse_words(Vec *words) {
    size_t start = pos;
    Word *w = xmalloc(sizeof *w);
    *w = parse_word();
    Vec texts = {0};
    int expanded = memchr(src + start, '{', pos - start) ? brace_expand(src + start, pos - start, &texts) : 0;
    if (expanded < 0) fallback();
    if (expanded == 0) {
        vec_push(words, w);
        return;
    }
    const char *saved_src = src;
    size_t saved_pos = pos;
    for (int i = 0; i < texts.n; i++) {
        src = texts.v[i];
        pos = 0;
        if (src[0] == 0) continue; /* an empty alternative is no word */
        Word *one = xmalloc(sizeof *one);
        *one = parse_word();
        if (at(pos) != 0) fallback();
        vec_push(words, one);
    }
    src = saved_src;
    pos = saved_pos;
}

/* The word's text if it is all literal (quoted or not) with nothing to expand. */
char *static_text(const Word *w) {
    if (w->dynamic) return NULL;
    Buf b = {0};
    for (int i = 0; i < w->n; i++) {
        if (w->parts[i].kind != P_LIT && w->parts[i].kind != P_QLIT) {
            free(b.s);
            return NULL;
        }
        buf_puts(&b, w->parts[i].text);
    }
    return buf_take(&b);
}

/* NAME= at the start of an unquoted first part: the name's length, else 0. */
size_t assignment_name(const Word *w) {
    if (w->n == 0 || w->parts[0].kind != P_LIT) return 0;
    const char *t = w->parts[0].text;
    if (!is_name_start(t[0])) return 0;
    size_t i = 1;
    while (is_name_char(t[i])) i++;
    return t[i] == '=' ? i : 0;
}

/* ---- what a command may name ---- */

/* Every variable a word reads must be one brush has no value of its own for
   (vars.c lists what its `set` shows and what it computes). */
void check_references(const Word *w) {
    for (int i = 0; i < w->n; i++) {
        const Part *p = &w->parts[i];
        const char *name = p->kind == P_PARAM || p->kind == P_QPARAM ? p->param->name
                           : p->kind == P_VAR || p->kind == P_QVAR   ? p->text
                                                                     : NULL;
        if (name && is_name_start((unsigned char)name[0]) && is_brush_variable(name, strlen(name))) fallback();
    }
}

/* An assignment word whose value has an unquoted `~` (bash expands those after
   `=` and `:`): brush's. So are `NAME+=` and `NAME[...]=`. */
void check_assignment_word(const Word *w) {
    for (int i = 0; i < w->n; i++)
        if (w->parts[i].kind == P_LIT && strchr(w->parts[i].text, '~')) fallback();
    if (is_brush_variable(w->parts[0].text, assignment_name(w))) fallback();
}
