/* sh: the parser. It reads the whole command line before anything runs, and
   calls fallback() (brush takes over) at the first thing outside the subset. */
#include <stdlib.h>
#include <string.h>

#include "sh.h"

static const char *src;
static size_t pos;
static int subst_depth;  /* inside $(...): its output is captured */
static int case_depth;   /* inside a case clause: `;;` ends a list */
static int function_depth; /* inside a function's body: return and local are ours */
static Vec function_names; /* of char*: every function the command defines */
static Vec pipelines;      /* of Pipeline: checked once every function is known */
static int loop_depth;   /* inside a for, while or until body */

typedef struct {
    Cmd *cmd;
    int redir;
    char *delimiter;
    int strip_tabs, quoted;
} Heredoc;

static Vec pending_heredocs; /* of Heredoc, read at the next newline */

static List *parse_list(void);

static int at(size_t i) { return (unsigned char)src[i]; }
static int is_name_start(int c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_name_char(int c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
static int is_meta(int c) { return c == 0 || strchr(" \t\n;&|<>()", c) != NULL; }

static void skip_blanks(void) {
    for (;;) {
        if (at(pos) == ' ' || at(pos) == '\t') pos++;
        else if (at(pos) == '\\' && at(pos + 1) == '\n') pos += 2;
        else if (at(pos) == '#') {
            while (at(pos) && at(pos) != '\n') pos++;
        } else return;
    }
}

/* `word` at pos as a whole token (a reserved word is one only where a command starts). */
static int at_word(const char *word) {
    size_t n = strlen(word);
    return strncmp(src + pos, word, n) == 0 && is_meta(at(pos + n));
}

static int at_terminator(void) {
    static const char *const ends[] = {"then", "else", "elif", "fi", "do", "done", "}", "esac", NULL};
    if (at(pos) == 0 || at(pos) == ')') return 1;
    if (case_depth && at(pos) == ';' && (at(pos + 1) == ';' || at(pos + 1) == '&')) return 1;
    for (int i = 0; ends[i]; i++)
        if (at_word(ends[i])) return 1;
    return 0;
}

static void expect_word(const char *word) {
    skip_blanks();
    if (!at_word(word)) fallback(); /* a syntax error: brush says it */
    pos += strlen(word);
}

/* ---- here-documents ---- */

static void parse_quoted_text(Word *w, int heredoc);
static void parse_dollar(Word *w, int quoted);
static void check_references(const Word *w);

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

static void skip_newlines(void) {
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

static void parse_quoted_text(Word *w, int heredoc) {
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
static Word parse_word(void) {
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
static Word parse_plain_word(void) {
    size_t start = pos;
    Word w = parse_word();
    Vec texts = {0};
    if (memchr(src + start, '{', pos - start) && brace_expand(src + start, pos - start, &texts) != 0) fallback();
    return w;
}

/* A word at pos into `words` (of Word*), brace-expanded: `a{b,c}` is two. */
static void parse_words(Vec *words) {
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
static void check_references(const Word *w) {
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
static void check_assignment_word(const Word *w) {
    for (int i = 0; i < w->n; i++)
        if (w->parts[i].kind == P_LIT && strchr(w->parts[i].text, '~')) fallback();
    if (is_brush_variable(w->parts[0].text, assignment_name(w))) fallback();
}


/* ---- redirections ---- */

static void add_redir(Cmd *cmd, Redir r) {
    cmd->redirs = xrealloc(cmd->redirs, sizeof(Redir) * (size_t)(cmd->nredirs + 1));
    cmd->redirs[cmd->nredirs++] = r;
}

static void parse_heredoc(Cmd *cmd, int fd) {
    Heredoc *h = xmalloc(sizeof *h);
    *h = (Heredoc){.cmd = cmd, .redir = cmd->nredirs};
    if (at(pos) == '<') fallback(); /* <<< here-string */
    if (at(pos) == '-') {
        h->strip_tabs = 1;
        pos++;
    }
    skip_blanks();
    if (is_meta(at(pos))) fallback();
    Word delimiter = parse_plain_word();
    for (int i = 0; i < delimiter.n; i++) {
        if (delimiter.parts[i].kind == P_QLIT) h->quoted = 1;
        else if (delimiter.parts[i].kind != P_LIT) fallback();
    }
    h->delimiter = static_text(&(Word){delimiter.parts, delimiter.n, 0});
    add_redir(cmd, (Redir){.fd = fd, .op = R_HEREDOC, .src = -1});
    vec_push(&pending_heredocs, h);
}

static int parse_redirection(Cmd *cmd) {
    int fd = -1;
    if (at(pos) >= '0' && at(pos) <= '9') {
        size_t end = pos;
        while (at(end) >= '0' && at(end) <= '9') end++;
        if (at(end) != '<' && at(end) != '>') return 0; /* a word of digits */
        if (end - pos > 1) fallback();                  /* fds above 9 */
        fd = at(pos) - '0';
        pos++;
    }
    int c = at(pos);
    if (c == '&' && at(pos + 1) == '>' && fd < 0) {
        /* &>file, &>>file: stdout and stderr */
        pos += 2;
        int append = at(pos) == '>';
        pos += append;
        skip_blanks();
        if (is_meta(at(pos))) fallback();
        Redir r = {.fd = 1, .op = append ? R_APPEND : R_OUT, .src = -1, .target = parse_plain_word()};
        if (r.target.dynamic) fallback();
        check_references(&r.target);
        add_redir(cmd, r);
        add_redir(cmd, (Redir){.fd = 2, .op = R_DUP, .src = 1});
        return 1;
    }
    if (c != '<' && c != '>') return 0;
    Redir r = {.fd = fd, .src = -1};
    pos++;
    if (c == '<' && at(pos) == '<') {
        pos++;
        parse_heredoc(cmd, fd < 0 ? 0 : fd);
        return 1;
    }
    if (c == '>' && at(pos) == '>') {
        r.op = R_APPEND;
        pos++;
    } else if (at(pos) == '&') {
        pos++;
        r.op = R_DUP;
    } else if (c == '>' && at(pos) == '|') {
        r.op = R_OUT; /* noclobber is never set here */
        pos++;
    } else if (at(pos) == '<' || at(pos) == '>' || at(pos) == '(') {
        fallback(); /* <>, process substitution */
    } else {
        r.op = c == '<' ? R_IN : R_OUT;
    }
    if (r.fd < 0) r.fd = c == '<' ? 0 : 1;
    skip_blanks();
    if (is_meta(at(pos))) fallback(); /* a syntax error: brush reports it */
    r.target = parse_plain_word();
    if (r.op == R_DUP) {
        char *t = static_text(&r.target);
        if (t == NULL) fallback();
        if (strcmp(t, "-") == 0) {
            r.op = R_CLOSE;
        } else if (t[0] >= '0' && t[0] <= '9' && t[1] == 0) {
            r.src = t[0] - '0';
            /* an fd above 2 must be one this command's own redirections opened */
            int opened = r.src <= 2;
            for (int i = 0; i < cmd->nredirs; i++)
                if (cmd->redirs[i].fd == r.src && cmd->redirs[i].op != R_CLOSE) opened = 1;
            if (!opened) fallback();
        } else {
            fallback(); /* >&file */
        }
    } else {
        if (r.target.dynamic) fallback(); /* a target that might split or glob */
        check_references(&r.target);
    }
    add_redir(cmd, r);
    return 1;
}

/* ---- commands ---- */

static Cmd *new_cmd(int kind) {
    Cmd *cmd = xmalloc(sizeof *cmd);
    *cmd = (Cmd){.kind = kind};
    return cmd;
}

static Cmd *parse_simple(void) {
    Cmd *cmd = new_cmd(C_SIMPLE);
    for (;;) {
        skip_blanks();
        int c = at(pos);
        if (c == '(' || (c == '&' && at(pos + 1) != '&' && at(pos + 1) != '>')) fallback(); /* f() {...}, cmd & */
        if (is_meta(c) && c != '<' && c != '>' && c != '&') break;
        if (c == '&' && at(pos + 1) == '&') break;
        if (parse_redirection(cmd)) continue;
        /* NAME= before the command: an assignment (each word is parsed once: a
           second parse would double at every nested $(...)) */
        size_t name = pos;
        while (cmd->words.n == 0 && is_name_char(at(name)) && !(name == pos && !is_name_start(at(name)))) name++;
        if (name > pos && (at(name) == '[' || (at(name) == '+' && at(name + 1) == '='))) fallback(); /* a[1]=, a+= */
        if (name > pos && at(name) == '=') {
            Word *w = xmalloc(sizeof *w);
            *w = parse_plain_word();
            check_assignment_word(w);
            vec_push(&cmd->assigns, w);
        } else {
            parse_words(&cmd->words);
        }
    }
    if (cmd->words.n == 0 && cmd->assigns.n == 0 && cmd->nredirs == 0) fallback(); /* syntax error */
    for (int k = 0; k < cmd->words.n; k++) check_references(cmd->words.v[k]);
    for (int k = 0; k < cmd->assigns.n; k++) {
        Word *w = cmd->assigns.v[k];
        check_references(w);
        /* `PATH=... cmd`: which PATH finds cmd is brush's business */
        if (cmd->words.n > 0 && assignment_name(w) == 4 && memcmp(w->parts[0].text, "PATH", 4) == 0) fallback();
    }
    if (cmd->words.n > 0) {
        char *name = static_text(cmd->words.v[0]);
        if (name == NULL) fallback(); /* a command name that comes from an expansion */
        if (strcmp(name, "command") == 0) {
            /* `command NAME ARGS` is NAME (there are no functions to skip) */
            char *next = cmd->words.n > 1 ? static_text(cmd->words.v[1]) : NULL;
            if (next == NULL || (next[0] == '-' && strcmp(next, "-v") != 0)) fallback();
            if (strcmp(next, "-v") == 0) {
                name = NULL;
                cmd->builtin = B_COMMAND_V;
            } else {
                memmove(cmd->words.v, cmd->words.v + 1, sizeof(void *) * (size_t)cmd->words.n);
                cmd->words.n--;
                name = next;
            }
        }
        if (name) cmd->builtin = builtin_number(name);
        if (cmd->builtin != B_NONE && cmd->assigns.n > 0) fallback();
        check_builtin(cmd);
        if ((cmd->builtin == B_LOCAL || cmd->builtin == B_RETURN) && (function_depth == 0 || subst_depth)) fallback();
        if (cmd->builtin == B_BREAK || cmd->builtin == B_CONTINUE) {
            /* brush ends the whole command when there are fewer loops to leave */
            char *n = cmd->words.n > 1 ? static_text(cmd->words.v[1]) : "1";
            if (loop_depth == 0 || subst_depth || atoi(n) > loop_depth) fallback();
        }
    }
    return cmd;
}

static List *parse_nonempty_list(void) {
    List *l = parse_list();
    if (l->items.n == 0) fallback(); /* `if then`: brush's syntax error */
    return l;
}

static Cmd *parse_if(void) {
    Cmd *cmd = new_cmd(C_IF);
    cmd->cond = parse_nonempty_list();
    expect_word("then");
    cmd->body = parse_nonempty_list();
    skip_blanks();
    if (at_word("elif")) {
        pos += 4;
        Cmd *elif = parse_if();
        List *l = xmalloc(sizeof *l);
        Pipeline *p = xmalloc(sizeof *p);
        *l = (List){0};
        *p = (Pipeline){0};
        vec_push(&p->cmds, elif);
        vec_push(&l->items, p);
        cmd->otherwise = l;
        return cmd; /* the elif's fi ends both */
    }
    if (at_word("else")) {
        pos += 4;
        cmd->otherwise = parse_nonempty_list();
    }
    expect_word("fi");
    return cmd;
}

static void parse_loop_body(Cmd *cmd) {
    expect_word("do");
    loop_depth++;
    cmd->body = parse_nonempty_list();
    loop_depth--;
    expect_word("done");
}

static Cmd *parse_for(void) {
    Cmd *cmd = new_cmd(C_FOR);
    skip_blanks();
    size_t start = pos;
    while (is_name_char(at(pos))) pos++;
    if (pos == start || !is_name_start(at(start)) || !is_meta(at(pos))) fallback(); /* for ((...)) */
    cmd->name = xstrndup(src + start, pos - start);
    if (is_brush_variable(cmd->name, pos - start)) fallback();
    skip_blanks();
    if (!at_word("in")) fallback(); /* for x; do: over "$@" */
    pos += 2;
    for (;;) {
        skip_blanks();
        if (at(pos) == ';' || at(pos) == '\n') break;
        if (is_meta(at(pos))) fallback();
        int before = cmd->words.n;
        parse_words(&cmd->words);
        for (int k = before; k < cmd->words.n; k++) check_references(cmd->words.v[k]);
    }
    if (at(pos) == ';') pos++;
    skip_newlines();
    parse_loop_body(cmd);
    return cmd;
}

static Cmd *parse_case(void) {
    Cmd *cmd = new_cmd(C_CASE);
    skip_blanks();
    if (is_meta(at(pos))) fallback();
    cmd->subject = xmalloc(sizeof(Word));
    *cmd->subject = parse_plain_word();
    check_references(cmd->subject);
    skip_newlines();
    expect_word("in");
    for (;;) {
        skip_newlines();
        if (at_word("esac")) break;
        if (at(pos) == '(') pos++;
        Clause *clause = xmalloc(sizeof *clause);
        *clause = (Clause){0};
        for (;;) {
            skip_blanks();
            if (is_meta(at(pos))) fallback();
            Word *pattern = xmalloc(sizeof *pattern);
            *pattern = parse_plain_word();
            check_references(pattern);
            vec_push(&clause->patterns, pattern);
            skip_blanks();
            if (at(pos) == ')') break;
            if (at(pos) != '|') fallback();
            pos++;
        }
        pos++;
        case_depth++;
        clause->body = parse_list();
        case_depth--;
        vec_push(&cmd->clauses, clause);
        skip_blanks();
        if (at(pos) == ';' && at(pos + 1) == ';' && at(pos + 2) != '&') {
            pos += 2;
            continue;
        }
        if (!at_word("esac")) fallback(); /* ;& and ;;& fall through: brush's */
    }
    pos += 4;
    return cmd;
}

static Cmd *parse_compound(void) {
    Cmd *cmd;
    if (at_word("case")) {
        pos += 4;
        cmd = parse_case();
    } else if (at_word("if")) {
        pos += 2;
        cmd = parse_if();
    } else if (at_word("while") || at_word("until")) {
        cmd = new_cmd(at(pos) == 'w' ? C_WHILE : C_UNTIL);
        pos += 5;
        cmd->cond = parse_nonempty_list();
        parse_loop_body(cmd);
    } else if (at_word("for")) {
        pos += 3;
        cmd = parse_for();
    } else if (at_word("{")) {
        pos++;
        cmd = new_cmd(C_GROUP);
        cmd->body = parse_nonempty_list();
        expect_word("}");
    } else if (at(pos) == '(') {
        pos++;
        if (at(pos) == '(') fallback(); /* ((arithmetic)) */
        cmd = new_cmd(C_SUBSHELL);
        cmd->body = parse_nonempty_list();
        skip_blanks();
        if (at(pos) != ')') fallback();
        pos++;
    } else {
        return NULL;
    }
    /* redirections of the whole compound command */
    for (;;) {
        skip_blanks();
        if (!parse_redirection(cmd)) break;
    }
    skip_blanks();
    if (!is_meta(at(pos)) || at(pos) == '(') fallback(); /* `fi x`: brush's syntax error */
    return cmd;
}

/* NAME() compound-command, or `function NAME [()] compound-command`; NULL if
   pos is at neither. */
static Cmd *parse_function(void) {
    size_t start = pos, end;
    int keyword = at_word("function");
    if (keyword) {
        pos += 8;
        skip_blanks();
        start = pos;
    }
    if (!is_name_start(at(pos))) {
        if (keyword) fallback();
        return NULL;
    }
    for (end = pos; is_name_char(at(end));) end++;
    size_t after = end;
    while (at(after) == ' ' || at(after) == '\t') after++;
    int parens = at(after) == '(';
    if (parens) {
        after++;
        while (at(after) == ' ' || at(after) == '\t') after++;
        if (at(after) != ')') fallback();
        after++;
    } else if (!keyword) {
        return NULL;
    }
    Cmd *cmd = new_cmd(C_FUNCTION);
    cmd->name = xstrndup(src + start, end - start);
    /* one named like a builtin would change what a name means before it runs */
    if (builtin_number_quiet(cmd->name) != B_NONE || strcmp(cmd->name, "command") == 0) fallback();
    vec_push(&function_names, cmd->name);
    pos = after;
    skip_newlines();
    function_depth++;
    int loops = loop_depth;
    loop_depth = 0; /* break in a function leaves the caller's loop: brush's */
    cmd->function = parse_compound();
    loop_depth = loops;
    function_depth--;
    if (cmd->function == NULL) fallback();
    return cmd;
}

static Cmd *parse_command(void) {
    skip_blanks();
    Cmd *cmd = parse_compound();
    if (cmd == NULL) cmd = parse_function();
    return cmd ? cmd : parse_simple();
}

static int is_function_call(const Cmd *cmd) {
    if (cmd->kind != C_SIMPLE || cmd->words.n == 0) return 0;
    char *name = static_text(cmd->words.v[0]);
    for (int i = 0; name && i < function_names.n; i++)
        if (strcmp(function_names.v[i], name) == 0) return 1;
    return 0;
}

/* Pipelines brush would run concurrently that this shell, one thread, could not. */
static void check_pipeline(const Pipeline *p) {
    int compound = -1;
    for (int i = 0; i < p->cmds.n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        if (cmd->kind == C_FUNCTION) fallback(); /* f() {...} | x: brush's */
        if (cmd->kind != C_SIMPLE || is_function_call(cmd)) { /* a function's body runs here too */
            if (compound >= 0) fallback();
            compound = i;
        } else if ((cmd->builtin != B_NONE && !PURE_BUILTIN(cmd->builtin)) ||
                   (cmd->words.n == 0 && cmd->assigns.n > 0)) {
            fallback(); /* cd, exit... in a pipeline act on a subshell of their own */
        }
    }
    if (compound < 0) return;
    /* a compound stage runs here while the others run as programs; captured, it
       would have to be the last, as nothing else could drain the output meanwhile */
    if (p->captured && compound != p->cmds.n - 1) fallback();
    for (int i = 0; i < p->cmds.n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        /* a builtin just before it feeds it all its output at once (run.c) */
        if (i != compound && cmd->builtin != B_NONE && i != compound - 1) fallback();
        if (i != compound && cmd->words.n == 0) fallback();
    }
}

static Pipeline *parse_pipeline(int connector) {
    Pipeline *p = xmalloc(sizeof *p);
    *p = (Pipeline){.connector = connector};
    skip_blanks();
    if (at_word("!")) {
        p->bang = 1;
        pos++;
    }
    for (;;) {
        vec_push(&p->cmds, parse_command());
        skip_blanks();
        if (at(pos) == '|' && at(pos + 1) != '|') {
            pos++;
            if (at(pos) == '&') fallback(); /* |& */
            skip_newlines();
            continue;
        }
        break;
    }
    p->captured = subst_depth > 0;
    if (p->cmds.n > 1) vec_push(&pipelines, p);
    return p;
}

/* A list up to the end of input, `)` or a reserved word that ends it. */
static List *parse_list(void) {
    static int depth;
    if (++depth > 100) fallback(); /* nesting this deep: brush's (this parser recurses on a 256 KiB stack) */
    List *l = xmalloc(sizeof *l);
    *l = (List){0};
    skip_newlines();
    int connector = J_SEQ;
    while (!at_terminator()) {
        vec_push(&l->items, parse_pipeline(connector));
        skip_blanks();
        if ((at(pos) == '&' && at(pos + 1) == '&') || (at(pos) == '|' && at(pos + 1) == '|')) {
            connector = at(pos) == '&' ? J_AND : J_OR;
            pos += 2;
            skip_newlines();
            if (at_terminator()) fallback();
            continue;
        }
        connector = J_SEQ;
        if (at(pos) == ';' && (at(pos + 1) == ';' || at(pos + 1) == '&')) {
            if (!case_depth) fallback(); /* ;; outside a case: brush's syntax error */
        } else if (at(pos) == ';') {
            pos++;
            skip_newlines();
        } else if (at(pos) == '\n') {
            skip_newlines();
        } else if (!at_terminator()) {
            fallback(); /* & and what else is no separator here */
        }
    }
    depth--;
    return l;
}

List *parse_script(const char *text) {
    src = text;
    pos = 0;
    List *l = parse_list();
    if (at(pos) != 0 || pending_heredocs.n) fallback(); /* a stray `fi`, `)`...: brush's error */
    for (int i = 0; i < pipelines.n; i++) check_pipeline(pipelines.v[i]);
    return l;
}
