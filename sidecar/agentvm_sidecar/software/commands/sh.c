/* sh: `sh -c COMMAND` for agentvm guests, fast for the command lines agents and
 * clients run most, and brush (the package's shell, /bin/bash) for everything else.
 *
 * Why: brush's own start in wasm costs ~0.4 ms before it runs anything, most of a
 * warm `sh -c 'echo hi'`. This shell parses the whole command first; if every
 * part of it is in the subset below, it runs it itself, with brush's observable
 * behaviour (output, exit status, error messages, the environment children get).
 * Otherwise, before anything has run, it execs brush with the same argv, so a
 * command outside the subset behaves exactly as it did before this shell existed.
 *
 * The subset: lists of pipelines joined by `;`, newlines, `&&` and `||`; simple
 * commands of assignments, words and redirections (`<`, `>`, `>>`, `N>&M`,
 * `N<&M`, `N>&-`, fds 0-9); words of plain text, '...', "..." and backslash
 * escapes; `$NAME`, `${NAME}`, `$?`, `$#` and `$0`-`$9`, field splitting with the
 * default IFS; `~` and `~/...`; pathname expansion (`*`, `?`, `[...]`, sorted
 * bytewise, dotfiles only by an explicit dot, never `.` or `..`); `#` comments;
 * external commands and the builtins echo, true, false, `:`, cd, exit, export and
 * unset. In a pipeline of more than one command, only echo, true, false and `:`
 * may be builtins (they run here, after the other commands have started).
 * Anything else, for instance `$(...)`, `${x:-y}`, `$@`, here-documents, `&`,
 * `( )`, `{ }` and brace expansion, `if`/`for`/`while`/`case`, functions, every
 * other builtin, options to sh itself, a script file or standard input, a
 * variable brush defines itself (BASH_VERSION, RANDOM, IFS...) or one neither in
 * the environment nor assigned by the command, and a startup file named by
 * BASH_ENV or ENV, goes to brush.
 *
 * As brush: children get the environment sorted by name, SHLVL one higher and PWD;
 * argv[0] is the word as typed (bash's choice; brush passes the path it found).
 * It replaces the package's `sh` in the /bin layer (software/commands/build.py
 * REPLACES); `bash` stays brush.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BRUSH "/bin/bash"
#define RED_ERROR "\x1b[31merror:\x1b[39m "
#define MAX_FD 9
#define DISCARD (-2) /* a builtin's output into a builtin that never reads it */

extern char **environ;

static char **sh_argv;

/* Every path this shell opens is made absolute against its own cwd first
   (wasi-libc's chdir, started from $PWD), so the runtime gives it one preopen,
   "/", and `echo x > /tmp/log` means /tmp/log even in a project that has a
   `tmp/` of its own (wasm/plain_preopens.py). */
__attribute__((export_name("agentvm_absolute_paths"))) void agentvm_absolute_paths(void) {}

/* Run brush in place of this shell, with the same argv and environment. Only
   called before anything has run, so brush sees the command as if first. */
static _Noreturn void fallback(void) {
    execv(BRUSH, sh_argv);
    fprintf(stderr, "sh: cannot run %s: %s\n", BRUSH, strerror(errno));
    exit(127);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fputs("sh: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        fputs("sh: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- growable byte strings ------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
} Buf;

static void buf_putn(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void buf_putc(Buf *b, char c) { buf_putn(b, &c, 1); }
static void buf_puts(Buf *b, const char *s) { buf_putn(b, s, strlen(s)); }

static char *buf_take(Buf *b) {
    char *s = b->s ? b->s : xstrndup("", 0);
    *b = (Buf){0};
    return s;
}

/* A growable array of pointers. */
typedef struct {
    void **v;
    int n, cap;
} Vec;

static void vec_push(Vec *a, void *p) {
    if (a->n + 2 > a->cap) {
        a->cap = (a->n + 2) * 2;
        a->v = xrealloc(a->v, sizeof(void *) * (size_t)a->cap);
    }
    a->v[a->n++] = p;
    a->v[a->n] = NULL;
}

/* ---- variables -------------------------------------------------------------- */

typedef struct {
    char *name, *value;
    int exported;
} Var;

static Vec vars; /* of Var */

static Var *var_find(const char *name, size_t len) {
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (strlen(v->name) == len && memcmp(v->name, name, len) == 0) return v;
    }
    return NULL;
}

static void var_set(const char *name, const char *value, int export) {
    Var *v = var_find(name, strlen(name));
    if (v == NULL) {
        v = xmalloc(sizeof *v);
        *v = (Var){xstrndup(name, strlen(name)), NULL, 0};
        vec_push(&vars, v);
    }
    if (value != NULL) v->value = xstrndup(value, strlen(value));
    v->exported |= export;
}

static void var_unset(const char *name) {
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (strcmp(v->name, name) == 0) {
            memmove(vars.v + i, vars.v + i + 1, sizeof(void *) * (size_t)(vars.n - i));
            vars.n--;
            return;
        }
    }
}

/* Variables brush defines or computes itself: a command that names one goes to
   brush. (Not those it takes from the environment, HOME or PATH, nor PWD and
   SHLVL, which this shell keeps as brush does.) */
static const char *const brush_variables[] = {
    "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0",
    "BASH_CMDS", "BASH_COMMAND", "BASH_ENV", "BASH_LINENO", "BASH_REMATCH", "BASH_SOURCE",
    "BASH_SUBSHELL", "BASH_VERSINFO", "BASH_VERSION", "BRUSH_VERSION", "CDPATH", "COLUMNS",
    "COMP_WORDBREAKS", "DIRSTACK", "ENV", "EPOCHREALTIME", "EPOCHSECONDS", "EUID", "FUNCNAME",
    "GLOBIGNORE", "GROUPS", "HISTCMD", "HISTFILE", "HOSTNAME", "HOSTTYPE", "IFS", "LINENO",
    "LINES", "MACHTYPE", "OLDPWD", "OPTARG", "OPTERR", "OPTIND", "OSTYPE", "PIPESTATUS",
    "POSIXLY_CORRECT", "PPID", "PS1", "PS2", "PS4", "RANDOM", "REPLY", "SECONDS",
    "SHELLOPTS", "SRANDOM", "UID", NULL,
};

static int is_brush_variable(const char *name, size_t len) {
    for (const char *const *p = brush_variables; *p; p++)
        if (strlen(*p) == len && memcmp(*p, name, len) == 0) return 1;
    return len > 5 && memcmp(name, "BASH_", 5) == 0;
}

/* brush's builtins and keywords, and bash's: a command naming one that is not
   built in here goes to brush (plain_command.py keeps the same list). */
static const char *const shell_names[] = {
    ".", "[", "[[", "]]", "!", "{", "}", "alias", "bg", "bind", "break", "builtin", "caller",
    "case", "command", "compgen", "complete", "compopt", "continue", "coproc", "declare",
    "dirs", "disown", "do", "done", "elif", "else", "enable", "esac", "eval", "exec", "fc",
    "fg", "fi", "for", "function", "getopts", "hash", "help", "history", "if", "in", "jobs",
    "kill", "let", "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read",
    "readarray", "readonly", "return", "select", "set", "shift", "shopt", "source", "suspend",
    "test", "then", "time", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias",
    "until", "wait", "while", "brushctl", "brushinfo", NULL,
};

enum { B_NONE, B_ECHO, B_TRUE, B_FALSE, B_COLON, B_CD, B_EXIT, B_EXPORT, B_UNSET };
static const char *const builtin_names[] = {"", "echo", "true", "false", ":", "cd", "exit", "export", "unset", NULL};

/* ---- the parsed command ----------------------------------------------------- */

enum { P_LIT, P_QLIT, P_VAR, P_QVAR, P_TILDE };

typedef struct {
    int kind;
    char *text; /* the literal, or the variable's name */
} Part;

typedef struct {
    Part *parts;
    int n;
    int dynamic; /* has an unquoted expansion or glob character */
} Word;

enum { R_IN, R_OUT, R_APPEND, R_DUP, R_CLOSE };

typedef struct {
    int fd, op, src;
    Word target;
} Redir;

typedef struct {
    Vec assigns; /* of Word, the first part's text starting "NAME=" */
    Vec words;   /* of Word */
    Redir *redirs;
    int nredirs;
    int builtin;
} Cmd;

enum { C_SEQ, C_AND, C_OR };

typedef struct {
    Vec cmds; /* of Cmd */
    int connector; /* how it joins the one before */
} Pipeline;

/* ---- parsing ---------------------------------------------------------------------- */

static const char *src;
static size_t pos;
static Vec script_names; /* of char*: names the command assigns or exports */

static int at(size_t i) { return src[i]; }

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

static void add_part(Word *w, int kind, const char *text, size_t n) {
    w->parts = xrealloc(w->parts, sizeof(Part) * (size_t)(w->n + 1));
    w->parts[w->n++] = (Part){kind, xstrndup(text, n)};
}

/* `$` at pos: a parameter we expand here, or fallback. A `$` before nothing that
   could start one is a literal, as in bash. */
static void parse_dollar(Word *w, int quoted) {
    size_t start = ++pos;
    int c = at(pos);
    if (is_name_start(c)) {
        while (is_name_char(at(pos))) pos++;
        add_part(w, quoted ? P_QVAR : P_VAR, src + start, pos - start);
    } else if (c == '?' || c == '#' || (c >= '0' && c <= '9')) {
        pos++;
        add_part(w, quoted ? P_QVAR : P_VAR, src + start, 1);
    } else if (c == '{') {
        size_t name = ++pos;
        if (is_name_start(at(pos))) {
            while (is_name_char(at(pos))) pos++;
        } else {
            while (at(pos) >= '0' && at(pos) <= '9') pos++;
        }
        if (pos == name || at(pos) != '}') fallback(); /* ${x:-y}, ${#x}, ${x[0]}... */
        add_part(w, quoted ? P_QVAR : P_VAR, src + name, pos - name);
        pos++;
    } else if (c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '/' || c == ':' || c == '.' ||
               c == ',' || c == '=' || (quoted && c == '"')) {
        add_part(w, quoted ? P_QLIT : P_LIT, "$", 1);
    } else {
        fallback(); /* $(...), $((...)), $'...', $"...", $$, $@, $*, $!, $- */
    }
    if (!quoted) w->dynamic = 1;
}

static void parse_double_quoted(Word *w) {
    Buf lit = {0};
    pos++;
    add_part(w, P_QLIT, "", 0); /* "" is a word of its own */
    for (;;) {
        int c = at(pos);
        if (c == 0 || c == '`') fallback();
        if (c == '"') {
            pos++;
            break;
        }
        if (c == '\\') {
            int next = at(pos + 1);
            if (next == '\n') {
                pos += 2;
                continue;
            }
            if (next == '$' || next == '`' || next == '"' || next == '\\') {
                buf_putc(&lit, (char)next);
                pos += 2;
                continue;
            }
            buf_putc(&lit, '\\');
            pos++;
            continue;
        }
        if (c == '$') {
            if (lit.len) add_part(w, P_QLIT, lit.s, lit.len);
            lit.len = 0;
            parse_dollar(w, 1);
            continue;
        }
        buf_putc(&lit, (char)c);
        pos++;
    }
    if (lit.len) add_part(w, P_QLIT, lit.s, lit.len);
    free(lit.s);
}

/* One word at pos (not at a metacharacter). */
static Word parse_word(void) {
    Word w = {0};
    Buf lit = {0};
    int brace = 0;
    if (at(pos) == '~') {
        int next = at(pos + 1);
        if ((next != '/' && !is_meta(next)) || getenv("HOME") == NULL) fallback(); /* ~user */
        add_part(&w, P_TILDE, "", 0);
        pos++;
    }
    while (!is_meta(at(pos))) {
        int c = at(pos);
        if (c == '\'' || c == '"' || c == '$' || c == '\\') {
            if (lit.len) add_part(&w, P_LIT, lit.s, lit.len);
            lit.len = 0;
        }
        if (c == '\'') {
            const char *end = strchr(src + pos + 1, '\'');
            if (end == NULL) fallback();
            add_part(&w, P_QLIT, src + pos + 1, (size_t)(end - (src + pos + 1)));
            pos = (size_t)(end - src) + 1;
        } else if (c == '"') {
            parse_double_quoted(&w);
        } else if (c == '$') {
            parse_dollar(&w, 0);
        } else if (c == '\\') {
            int next = at(pos + 1);
            if (next == 0) fallback();
            if (next != '\n') add_part(&w, P_QLIT, src + pos + 1, 1);
            pos += 2;
        } else if (c == '`') {
            fallback();
        } else {
            if (c == '{') brace = 1;
            if (brace && (c == ',' || (c == '.' && at(pos + 1) == '.'))) fallback(); /* {a,b} {1..3} */
            if (c == '*' || c == '?' || c == '[') w.dynamic = 1;
            buf_putc(&lit, (char)c);
            pos++;
        }
    }
    if (lit.len) add_part(&w, P_LIT, lit.s, lit.len);
    free(lit.s);
    return w;
}

/* The word's text if it is all literal (quoted or not) with nothing to expand. */
static char *static_text(const Word *w) {
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
static size_t assignment_name(const Word *w) {
    if (w->n == 0 || w->parts[0].kind != P_LIT) return 0;
    const char *t = w->parts[0].text;
    if (!is_name_start(t[0])) return 0;
    size_t i = 1;
    while (is_name_char(t[i])) i++;
    return t[i] == '=' ? i : 0;
}

/* An assignment word whose value has an unquoted `~` (bash expands those after
   `=` and `:`), or `NAME+=`, `NAME[...]=`: brush's. */
static void check_assignment_word(const Word *w) {
    for (int i = 0; i < w->n; i++)
        if (w->parts[i].kind == P_LIT && strchr(w->parts[i].text, '~')) fallback();
}

static void check_not_special_assignment(const Word *w) {
    if (w->n == 0 || w->parts[0].kind != P_LIT || !is_name_start(w->parts[0].text[0])) return;
    const char *t = w->parts[0].text;
    size_t i = 1;
    while (is_name_char(t[i])) i++;
    if (t[i] == '[' || (t[i] == '+' && t[i + 1] == '=')) fallback();
}

static int known_name(const char *name) {
    for (int i = 0; i < script_names.n; i++)
        if (strcmp(script_names.v[i], name) == 0) return 1;
    return 0;
}

/* Every variable a word reads must be one we know brush has no value of its own for. */
static void check_references(const Word *w) {
    for (int i = 0; i < w->n; i++) {
        const Part *p = &w->parts[i];
        if (p->kind != P_VAR && p->kind != P_QVAR) continue;
        const char *name = p->text;
        if (!is_name_start(name[0])) continue; /* $? $# $0-$9 */
        if (is_brush_variable(name, strlen(name))) fallback();
        if (var_find(name, strlen(name)) == NULL && !known_name(name)) fallback();
    }
}

static int parse_redirection(Cmd *cmd) {
    int fd = -1;
    if (at(pos) >= '0' && at(pos) <= '9') {
        size_t end = pos;
        while (at(end) >= '0' && at(end) <= '9') end++;
        if (at(end) != '<' && at(end) != '>') return 0; /* a word of digits */
        if (end - pos > 1) fallback(); /* fds above 9 */
        fd = at(pos) - '0';
        pos++;
    }
    int c = at(pos);
    if (c != '<' && c != '>') return 0;
    Redir r = {.fd = fd, .src = -1};
    pos++;
    if (c == '>' && at(pos) == '>') {
        r.op = R_APPEND;
        pos++;
    } else if (at(pos) == '&') {
        pos++;
        r.op = R_DUP;
    } else if (at(pos) == '<' || at(pos) == '>' || at(pos) == '|' || at(pos) == '(') {
        fallback(); /* here-documents and strings, <>, >|, process substitution */
    } else {
        r.op = c == '<' ? R_IN : R_OUT;
    }
    if (r.fd < 0) r.fd = c == '<' ? 0 : 1;
    skip_blanks();
    if (is_meta(at(pos))) fallback(); /* a syntax error: brush reports it */
    r.target = parse_word();
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
    cmd->redirs = xrealloc(cmd->redirs, sizeof(Redir) * (size_t)(cmd->nredirs + 1));
    cmd->redirs[cmd->nredirs++] = r;
    return 1;
}

static int lookup(const char *const *names, const char *name) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void check_builtin_args(Cmd *cmd) {
    int nargs = cmd->words.n - 1;
    Word **args = (Word **)cmd->words.v + 1;
    if (cmd->builtin == B_EXIT) {
        if (nargs > 1) fallback();
        if (nargs == 1) {
            char *t = static_text(args[0]);
            if (t == NULL || t[0] == 0 || strspn(t, "0123456789") != strlen(t) || strlen(t) > 9) fallback();
        }
    } else if (cmd->builtin == B_CD) {
        if (nargs > 1 || getenv("CDPATH") != NULL) fallback();
        if (nargs == 1) {
            if (args[0]->dynamic) fallback();
            char *t = static_text(args[0]);
            if (t != NULL && t[0] == '-') fallback();
        }
    } else if (cmd->builtin == B_EXPORT || cmd->builtin == B_UNSET) {
        if (nargs == 0) fallback(); /* lists the variables */
        for (int i = 0; i < nargs; i++) {
            size_t n = assignment_name(args[i]);
            if (n > 0) check_assignment_word(args[i]);
            else if (cmd->builtin == B_EXPORT) fallback(); /* brush exports an unset name differently */
            if (n == 0 || cmd->builtin == B_UNSET) {
                char *t = static_text(args[i]);
                if (t == NULL || !is_name_start(t[0])) fallback();
                for (size_t k = 0; t[k]; k++)
                    if (!is_name_char(t[k])) fallback();
                n = strlen(t);
            }
            if (is_brush_variable(args[i]->parts[0].text, n)) fallback();
            if (!(args[i]->parts[0].kind == P_LIT || args[i]->parts[0].kind == P_QLIT)) fallback();
        }
    }
}

static Cmd *parse_command(void) {
    Cmd *cmd = xmalloc(sizeof *cmd);
    *cmd = (Cmd){0};
    for (;;) {
        skip_blanks();
        int c = at(pos);
        if (c == '(' || c == ')' || (c == '&' && at(pos + 1) != '&')) fallback();
        if (is_meta(c) && c != '<' && c != '>') break;
        if (parse_redirection(cmd)) continue;
        Word *w = xmalloc(sizeof *w);
        *w = parse_word();
        if (w->n == 0) fallback();
        if (cmd->words.n == 0) check_not_special_assignment(w);
        if (cmd->words.n == 0 && assignment_name(w)) {
            check_assignment_word(w);
            vec_push(&cmd->assigns, w);
        } else {
            vec_push(&cmd->words, w);
        }
    }
    if (cmd->words.n == 0 && cmd->assigns.n == 0 && cmd->nredirs == 0) fallback(); /* syntax error */
    if (cmd->words.n > 0) {
        char *name = static_text(cmd->words.v[0]);
        if (name == NULL) fallback(); /* a command name that comes from an expansion */
        int b = lookup(builtin_names, name);
        cmd->builtin = b > 0 ? b : B_NONE;
        if (b <= 0 && lookup(shell_names, name) >= 0) fallback();
        if (cmd->builtin != B_NONE && cmd->assigns.n > 0) fallback();
        check_builtin_args(cmd);
    }
    return cmd;
}

/* Names the command assigns or exports anywhere: a read of one of them is of a
   value this shell set (or of an unset variable, as in brush). */
static void collect_assigned_names(void) {
    for (size_t i = 0; src[i]; i++) {
        if (!is_name_start(src[i]) || (i > 0 && is_name_char(src[i - 1]))) continue;
        size_t j = i;
        while (is_name_char(src[j])) j++;
        if (src[j] == '=') vec_push(&script_names, xstrndup(src + i, j - i));
        i = j - 1;
    }
}

static Vec parse_script(void) {
    Vec pipelines = {0};
    int connector = C_SEQ;
    collect_assigned_names();
    for (;;) {
        skip_blanks();
        while (at(pos) == '\n' || at(pos) == ';') {
            if (at(pos) == ';' && (at(pos + 1) == ';' || (pipelines.n == 0 && connector == C_SEQ))) fallback();
            pos++;
            skip_blanks();
        }
        if (at(pos) == 0) break;
        Pipeline *p = xmalloc(sizeof *p);
        *p = (Pipeline){.connector = connector};
        for (;;) {
            Cmd *cmd = parse_command();
            vec_push(&p->cmds, cmd);
            if (at(pos) == '|' && at(pos + 1) != '|') {
                pos++;
                do {
                    skip_blanks();
                } while (at(pos) == '\n' && ++pos);
                continue;
            }
            break;
        }
        if (p->cmds.n > 1)
            for (int i = 0; i < p->cmds.n; i++) {
                Cmd *cmd = p->cmds.v[i];
                if (cmd->builtin > B_COLON || (cmd->words.n == 0 && cmd->assigns.n > 0)) fallback();
            }
        for (int i = 0; i < p->cmds.n; i++) {
            Cmd *cmd = p->cmds.v[i];
            for (int k = 0; k < cmd->words.n; k++) check_references(cmd->words.v[k]);
            for (int k = 0; k < cmd->assigns.n; k++) {
                Word *w = cmd->assigns.v[k];
                size_t n = assignment_name(w);
                if (is_brush_variable(w->parts[0].text, n)) fallback();
                /* `PATH=... cmd`: which PATH finds cmd is brush's business */
                if (cmd->words.n > 0 && n == 4 && memcmp(w->parts[0].text, "PATH", 4) == 0) fallback();
                check_references(w);
            }
        }
        vec_push(&pipelines, p);
        if ((at(pos) == '&' && at(pos + 1) == '&') || (at(pos) == '|' && at(pos + 1) == '|')) {
            connector = at(pos) == '&' ? C_AND : C_OR;
            pos += 2;
            do {
                skip_blanks();
            } while (at(pos) == '\n' && ++pos);
            if (at(pos) == 0) fallback();
        } else if (at(pos) == ';' || at(pos) == '\n' || at(pos) == 0) {
            connector = C_SEQ;
        } else {
            fallback();
        }
    }
    return pipelines;
}

/* ---- expansion --------------------------------------------------------------------- */

static char **positional; /* $0, $1... */
static int npositional;
static int last_status;

static const char *param_value(const char *name, char *scratch) {
    if (strcmp(name, "?") == 0) {
        sprintf(scratch, "%d", last_status);
        return scratch;
    }
    if (strcmp(name, "#") == 0) {
        sprintf(scratch, "%d", npositional > 0 ? npositional - 1 : 0);
        return scratch;
    }
    if (name[0] >= '0' && name[0] <= '9') {
        int n = atoi(name);
        return n < npositional ? positional[n] : "";
    }
    Var *v = var_find(name, strlen(name));
    return v && v->value ? v->value : "";
}

static int has_glob(const char *pattern) {
    for (const char *p = pattern; *p; p++) {
        if (*p == '\\' && p[1]) p++;
        else if (*p == '*' || *p == '?' || *p == '[') return 1;
    }
    return 0;
}

static void unescape(char *s) {
    char *out = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) s++;
        *out++ = *s;
    }
    *out = 0;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Match the pattern's components from `comp` on below directory `base` ("" for
   relative), adding each full match to `out`. */
static void glob_below(const char *base, char **comps, int ncomps, Vec *out) {
    if (ncomps == 0) {
        vec_push(out, xstrndup(base, strlen(base)));
        return;
    }
    const char *comp = comps[0];
    int last = ncomps == 1;
    if (comp[0] == 0) { /* a trailing slash: directories only */
        struct stat st;
        if (base[0] && stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
            Buf b = {0};
            buf_puts(&b, base);
            buf_putc(&b, '/');
            vec_push(out, buf_take(&b));
        }
        return;
    }
    if (!has_glob(comp)) {
        Buf b = {0};
        buf_puts(&b, base);
        if (base[0] && base[strlen(base) - 1] != '/') buf_putc(&b, '/');
        char *plain = xstrndup(comp, strlen(comp));
        unescape(plain);
        buf_puts(&b, plain);
        struct stat st;
        if (lstat(b.s, &st) == 0) glob_below(b.s, comps + 1, ncomps - 1, out);
        free(b.s);
        free(plain);
        return;
    }
    DIR *dir = opendir(base[0] ? base : ".");
    if (dir == NULL) return;
    Vec names = {0};
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (name[0] == '.' && comp[0] != '.') continue;
        if (fnmatch(comp, name, FNM_PERIOD) == 0) vec_push(&names, xstrndup(name, strlen(name)));
    }
    closedir(dir);
    for (int i = 0; i < names.n; i++) {
        Buf b = {0};
        buf_puts(&b, base);
        if (base[0] && base[strlen(base) - 1] != '/') buf_putc(&b, '/');
        buf_puts(&b, names.v[i]);
        if (last) {
            vec_push(out, buf_take(&b));
        } else {
            struct stat st;
            if (stat(b.s, &st) == 0 && S_ISDIR(st.st_mode)) glob_below(b.s, comps + 1, ncomps - 1, out);
            free(b.s);
        }
    }
}

/* Pathname expansion of one field (its pattern has quoted characters escaped):
   the sorted matches, or the field itself when nothing matches. */
static void expand_field(char *pattern, char *text, Vec *out) {
    if (!has_glob(pattern)) {
        vec_push(out, text);
        return;
    }
    Vec comps = {0};
    char *copy = xstrndup(pattern, strlen(pattern));
    const char *base = pattern[0] == '/' ? "/" : "";
    char *p = copy + (pattern[0] == '/');
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        vec_push(&comps, p);
        if (!slash) break;
        p = slash + 1;
    }
    Vec found = {0};
    glob_below(base, (char **)comps.v, comps.n, &found);
    if (found.n == 0) {
        vec_push(out, text);
        return;
    }
    qsort(found.v, (size_t)found.n, sizeof(void *), compare_strings);
    for (int i = 0; i < found.n; i++) vec_push(out, found.v[i]);
}

typedef struct {
    Buf text, pattern;
    int started, glob;
} Field;

static void field_add(Field *f, const char *s, int quoted) {
    for (; *s; s++) {
        buf_putc(&f->text, *s);
        if (quoted && strchr("*?[]\\", *s)) buf_putc(&f->pattern, '\\');
        buf_putc(&f->pattern, *s);
    }
    f->started = 1;
}

static void field_end(Field *f, Vec *out) {
    if (f->started) {
        char *text = buf_take(&f->text);
        char *pattern = buf_take(&f->pattern);
        if (f->glob) expand_field(pattern, text, out);
        else vec_push(out, text);
    }
    *f = (Field){0};
}

/* A word's fields, after parameter expansion, field splitting and pathname expansion. */
static void expand_word(const Word *w, Vec *out) {
    Field f = {0};
    char scratch[16];
    for (int i = 0; i < w->n; i++) {
        const Part *p = &w->parts[i];
        switch (p->kind) {
        case P_LIT:
            field_add(&f, p->text, 0);
            if (strpbrk(p->text, "*?[")) f.glob = 1;
            break;
        case P_QLIT:
            field_add(&f, p->text, 1);
            break;
        case P_QVAR:
            field_add(&f, param_value(p->text, scratch), 1);
            break;
        case P_TILDE:
            field_add(&f, param_value("HOME", scratch), 1);
            break;
        case P_VAR:
            for (const char *v = param_value(p->text, scratch); *v; v++) {
                if (*v == ' ' || *v == '\t' || *v == '\n') {
                    if (f.started || f.text.len) field_end(&f, out);
                    continue;
                }
                char c[2] = {*v, 0};
                field_add(&f, c, 0);
                if (strchr("*?[", *v)) f.glob = 1;
            }
            break;
        }
    }
    field_end(&f, out);
}

/* An assignment's value or a redirection's target: no splitting, no globbing. */
static char *expand_single(const Word *w, size_t skip_name) {
    Buf b = {0};
    char scratch[16];
    buf_puts(&b, "");
    for (int i = 0; i < w->n; i++) {
        const Part *p = &w->parts[i];
        const char *text = p->text;
        if (i == 0 && skip_name) text += skip_name + 1;
        if (p->kind == P_VAR || p->kind == P_QVAR) text = param_value(p->text, scratch);
        else if (p->kind == P_TILDE) text = param_value("HOME", scratch);
        buf_puts(&b, text);
    }
    return buf_take(&b);
}

/* ---- running ------------------------------------------------------------------------ */

static void errorf(int red, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(red ? RED_ERROR : "error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static int cmp_vars(const void *a, const void *b) {
    return strcmp((*(Var *const *)a)->name, (*(Var *const *)b)->name);
}

/* The environment a child gets: exported variables and the command's own
   assignments, sorted by name, as brush passes them. */
static char **child_env(const Cmd *cmd) {
    Vec list = {0};
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (!v->exported || v->value == NULL) continue;
        int overridden = 0;
        for (int k = 0; k < cmd->assigns.n; k++) {
            const Word *w = cmd->assigns.v[k];
            size_t n = assignment_name(w);
            if (strlen(v->name) == n && memcmp(v->name, w->parts[0].text, n) == 0) overridden = 1;
        }
        if (!overridden) vec_push(&list, v);
    }
    for (int k = 0; k < cmd->assigns.n; k++) {
        const Word *w = cmd->assigns.v[k];
        size_t n = assignment_name(w);
        Var *v = xmalloc(sizeof *v);
        *v = (Var){xstrndup(w->parts[0].text, n), expand_single(w, n), 1};
        int dup = 0;
        for (int i = 0; i < list.n; i++)
            if (strcmp(((Var *)list.v[i])->name, v->name) == 0) {
                list.v[i] = v;
                dup = 1;
            }
        if (!dup) vec_push(&list, v);
    }
    qsort(list.v, (size_t)list.n, sizeof(void *), cmp_vars);
    char **env = xmalloc(sizeof(char *) * (size_t)(list.n + 1));
    for (int i = 0; i < list.n; i++) {
        Var *v = list.v[i];
        Buf b = {0};
        buf_puts(&b, v->name);
        buf_putc(&b, '=');
        buf_puts(&b, v->value);
        env[i] = buf_take(&b);
    }
    env[list.n] = NULL;
    return env;
}

static int open_flags(int op) {
    return op == R_IN ? O_RDONLY : op == R_OUT ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT | O_APPEND;
}

/* Open a redirection's target as brush does, or say why not; -1 then. */
static int open_target(const Redir *r) {
    char *path = expand_single(&r->target, 0);
    int fd = open(path, open_flags(r->op) | O_CLOEXEC, 0666);
    if (fd < 0) errorf(0, "failed to redirect to %s: %s (os error %d)\n", path, strerror(errno), errno);
    free(path);
    return fd;
}

/* A builtin's fds after its redirections, without touching the shell's own.
   Returns 0, or 1 when a redirection failed (the builtin does not run). */
static int builtin_fds(const Cmd *cmd, int map[MAX_FD + 1], Vec *opened) {
    for (int i = 0; i < cmd->nredirs; i++) {
        const Redir *r = &cmd->redirs[i];
        if (r->op == R_CLOSE) {
            map[r->fd] = -1;
        } else if (r->op == R_DUP) {
            map[r->fd] = map[r->src];
        } else {
            int fd = open_target(r);
            if (fd < 0) return 1;
            map[r->fd] = fd;
            vec_push(opened, (void *)(size_t)fd);
        }
    }
    return 0;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static int octal_digit(int c) { return c >= '0' && c <= '7'; }

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(Buf *b, unsigned long cp) {
    if (cp < 0x80) {
        buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        buf_putc(b, (char)(0xC0 | (cp >> 6)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        buf_putc(b, (char)(0xE0 | (cp >> 12)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        buf_putc(b, (char)(0xF0 | (cp >> 18)));
        buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* echo -e's escapes in `s`; returns 1 at \c (no more output at all). */
static int echo_escapes(Buf *out, const char *s) {
    static const char simple[] = "a\ab\be\033E\033f\fn\nr\rt\tv\v\\\\";
    for (; *s; s++) {
        if (*s != '\\' || s[1] == 0) {
            buf_putc(out, *s);
            continue;
        }
        int c = *++s;
        const char *hit = c ? strchr(simple, c) : NULL;
        if (hit && (hit - simple) % 2 == 0) {
            buf_putc(out, hit[1]);
        } else if (c == 'c') {
            return 1;
        } else if (c == '0') {
            int v = 0, k = 0;
            while (k < 3 && octal_digit(s[1])) v = v * 8 + (*++s - '0'), k++;
            buf_putc(out, (char)v);
        } else if (c == 'x' && hex_value(s[1]) >= 0) {
            int v = 0, k = 0;
            while (k < 2 && hex_value(s[1]) >= 0) v = v * 16 + hex_value(*++s), k++;
            buf_putc(out, (char)v);
        } else if ((c == 'u' || c == 'U') && hex_value(s[1]) >= 0) {
            unsigned long v = 0;
            int k = 0, max = c == 'u' ? 4 : 8;
            while (k < max && hex_value(s[1]) >= 0) v = v * 16 + (unsigned long)hex_value(*++s), k++;
            put_utf8(out, v);
        } else {
            buf_putc(out, '\\');
            buf_putc(out, (char)c);
        }
    }
    return 0;
}

static int run_echo(char **args, int fd) {
    int newline = 1, escapes = 0, i = 0;
    for (; args[i] && args[i][0] == '-' && args[i][1]; i++) {
        if (strspn(args[i] + 1, "neE") != strlen(args[i] + 1)) break;
        for (const char *o = args[i] + 1; *o; o++) {
            if (*o == 'n') newline = 0;
            else escapes = *o == 'e';
        }
    }
    Buf out = {0};
    int stop = 0;
    for (int first = i; args[i] && !stop; i++) {
        if (i > first) buf_putc(&out, ' ');
        if (escapes) stop = echo_escapes(&out, args[i]);
        else buf_puts(&out, args[i]);
    }
    if (newline && !stop) buf_putc(&out, '\n');
    int status = 0;
    if (out.len && fd != DISCARD && (fd < 0 || write_all(fd, out.s, out.len) < 0)) {
        if (fd >= 0 && errno == EPIPE) {
            status = 128 + SIGPIPE; /* as a subshell's echo ends on a closed pipe */
        } else {
            errorf(0, "echo: %s\n", strerror(fd < 0 ? EBADF : errno));
            status = 1;
        }
    }
    free(out.s);
    return status;
}

/* $PWD joined with `dir` and made canonical lexically, as cd -L does. */
static char *logical_path(const char *dir) {
    Buf joined = {0};
    if (dir[0] != '/') {
        const char *pwd = param_value("PWD", NULL);
        buf_puts(&joined, pwd[0] ? pwd : "/");
        buf_putc(&joined, '/');
    }
    buf_puts(&joined, dir);
    Buf out = {0};
    buf_puts(&out, "");
    for (char *p = joined.s; *p;) {
        while (*p == '/') p++;
        char *end = p + strcspn(p, "/");
        size_t n = (size_t)(end - p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(out.s, '/');
            out.len = slash ? (size_t)(slash - out.s) : 0;
            out.s[out.len] = 0;
        } else {
            buf_putc(&out, '/');
            buf_putn(&out, p, n);
        }
        p = end;
    }
    free(joined.s);
    if (out.len == 0) buf_putc(&out, '/');
    return buf_take(&out);
}

static int run_cd(char **args) {
    const char *dir = args[0] ? args[0] : param_value("HOME", NULL);
    char *path = logical_path(dir);
    if (chdir(path) != 0) {
        if (errno == ENOTDIR) errorf(1, "cd: not a directory: %s\n", path);
        else errorf(1, "cd: i/o error: %s (os error %d)\n", strerror(errno), errno);
        return 1;
    }
    var_set("OLDPWD", param_value("PWD", NULL), 1);
    var_set("PWD", path, 1);
    return 0;
}

static int run_builtin(const Cmd *cmd, char **argv, int map[MAX_FD + 1]) {
    switch (cmd->builtin) {
    case B_ECHO:
        return run_echo(argv + 1, map[1]);
    case B_TRUE:
    case B_COLON:
        return 0;
    case B_FALSE:
        return 1;
    case B_CD:
        return run_cd(argv + 1);
    case B_EXIT:
        fflush(stdout);
        exit(argv[1] ? atoi(argv[1]) & 0xFF : last_status);
    case B_EXPORT:
        for (int i = 1; i < cmd->words.n; i++) {
            const Word *w = cmd->words.v[i];
            size_t n = assignment_name(w);
            if (n == 0) {
                var_set(static_text(w), NULL, 1);
                continue;
            }
            char *name = xstrndup(w->parts[0].text, n);
            var_set(name, expand_single(w, n), 1);
        }
        return 0;
    case B_UNSET:
        for (int i = 1; argv[i]; i++) var_unset(argv[i]);
        return 0;
    }
    return 0;
}

/* Said on the command's own fd 2, after its redirections (a closed one: nowhere). */
static void spawn_failed(const char *name, int err, int fd) {
    if (fd < 0) return;
    if (err == ENOENT) dprintf(fd, RED_ERROR "command not found: %s\n", name);
    else dprintf(fd, RED_ERROR "failed to execute command '%s': %s (os error %d)\n", name, strerror(err), err);
}

/* Where the kernel found `name`: itself with a slash, else the first executable
   regular file of that name along $PATH. */
static char *path_of(const char *name) {
    if (strchr(name, '/')) return xstrndup(name, strlen(name));
    const char *dirs = param_value("PATH", NULL);
    for (;;) {
        size_t n = strcspn(dirs, ":");
        Buf b = {0};
        buf_putn(&b, n ? dirs : ".", n ? n : 1);
        buf_putc(&b, '/');
        buf_puts(&b, name);
        struct stat st;
        if (stat(b.s, &st) == 0 && S_ISREG(st.st_mode) && access(b.s, X_OK) == 0) return buf_take(&b);
        free(b.s);
        if (dirs[n] == 0) return xstrndup(name, strlen(name));
        dirs += n + 1;
    }
}

/* A file the kernel would not run (no wasm, no #!): as brush, one with a NUL in
   its first 256 bytes is refused (ENOEXEC), any other runs as a shell script. */
static int spawn_script(pid_t *pid, const posix_spawn_file_actions_t *fa, char **argv, char **env) {
    char *path = path_of(argv[0]);
    char head[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof head);
    if (fd >= 0) close(fd);
    if (n < 0) return errno;
    if (memchr(head, 0, (size_t)n)) return ENOEXEC;
    Vec script = {0};
    vec_push(&script, (void *)"sh");
    vec_push(&script, path);
    for (int i = 1; argv[i]; i++) vec_push(&script, argv[i]);
    return posix_spawn(pid, "/bin/sh", fa, NULL, (char **)script.v, env);
}

/* Start an external command with its pipe ends and redirections; its pid, or
   -1 with last_status set to brush's (127 not found, 126 otherwise). */
static pid_t start_external(const Cmd *cmd, char **argv, int in, int out, Vec *pipe_fds) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in >= 0) posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (out >= 0) posix_spawn_file_actions_adddup2(&fa, out, 1);
    for (int i = 0; i < pipe_fds->n; i++) posix_spawn_file_actions_addclose(&fa, (int)(size_t)pipe_fds->v[i]);
    Vec opened = {0};
    int failed = 0;
    int map[MAX_FD + 1]; /* where the child's fds 0-9 will lead, in this shell's fds */
    for (int i = 0; i <= MAX_FD; i++) map[i] = i;
    if (in >= 0) map[0] = in;
    if (out >= 0) map[1] = out;
    for (int i = 0; i < cmd->nredirs && !failed; i++) {
        const Redir *r = &cmd->redirs[i];
        if (r->op == R_CLOSE) {
            posix_spawn_file_actions_addclose(&fa, r->fd);
            map[r->fd] = -1;
        } else if (r->op == R_DUP) {
            posix_spawn_file_actions_adddup2(&fa, r->src, r->fd);
            map[r->fd] = map[r->src];
        } else {
            /* opened here, so a failure is reported as brush reports it */
            int fd = open_target(r);
            if (fd < 0) failed = 1;
            else {
                posix_spawn_file_actions_adddup2(&fa, fd, r->fd);
                vec_push(&opened, (void *)(size_t)fd);
                map[r->fd] = fd;
            }
        }
    }
    pid_t pid = -1;
    if (!failed) {
        char **env = child_env(cmd);
        int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
        if (err == ENOEXEC) err = spawn_script(&pid, &fa, argv, env);
        if (err) {
            spawn_failed(argv[0], err, map[2]);
            last_status = err == ENOENT ? 127 : 126;
            pid = -1;
        }
    } else {
        last_status = 1;
    }
    for (int i = 0; i < opened.n; i++) close((int)(size_t)opened.v[i]);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int wait_status(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static char **expand_argv(const Cmd *cmd) {
    Vec argv = {0};
    for (int i = 0; i < cmd->words.n; i++) expand_word(cmd->words.v[i], &argv);
    if (argv.v == NULL) {
        argv.v = xmalloc(sizeof(void *));
        argv.v[0] = NULL;
    }
    return (char **)argv.v;
}

/* A command of assignments and redirections only. */
static int run_bare(const Cmd *cmd) {
    for (int i = 0; i < cmd->nredirs; i++) {
        const Redir *r = &cmd->redirs[i];
        if (r->op == R_CLOSE || r->op == R_DUP) continue;
        int fd = open_target(r);
        if (fd < 0) return 1;
        close(fd);
    }
    for (int k = 0; k < cmd->assigns.n; k++) {
        const Word *w = cmd->assigns.v[k];
        size_t n = assignment_name(w);
        char *name = xstrndup(w->parts[0].text, n);
        var_set(name, expand_single(w, n), 0);
    }
    return 0;
}

static int run_simple(const Cmd *cmd) {
    char **argv = expand_argv(cmd);
    if (argv[0] == NULL) return run_bare(cmd);
    if (cmd->builtin != B_NONE) {
        int map[MAX_FD + 1];
        for (int i = 0; i <= MAX_FD; i++) map[i] = i;
        Vec opened = {0};
        int status = builtin_fds(cmd, map, &opened) ? 1 : -1;
        if (status < 0) status = run_builtin(cmd, argv, map);
        for (int i = 0; i < opened.n; i++) close((int)(size_t)opened.v[i]);
        return status;
    }
    Vec none = {0};
    pid_t pid = start_external(cmd, argv, -1, -1, &none);
    return pid < 0 ? last_status : wait_status(pid);
}

/* A pipeline of several commands: every external one starts first, then the
   others (echo, true, false, :, bare assignments) run here, in order, with
   SIGPIPE blocked: a closed pipe ends such a stage (status 141) as it would end
   the subshell bash runs it in, never this shell. None of them reads its input,
   so a stage's output into one of them is dropped. */
static int run_pipeline(const Pipeline *p) {
    int n = p->cmds.n;
    int (*pipes)[2] = xmalloc(sizeof(int[2]) * (size_t)n);
    Vec pipe_fds = {0};
    for (int i = 0; i + 1 < n; i++) {
        if (pipe(pipes[i]) != 0) {
            errorf(0, "failed to create pipe: %s\n", strerror(errno));
            for (int k = 0; k < pipe_fds.n; k++) close((int)(size_t)pipe_fds.v[k]);
            return 1;
        }
        vec_push(&pipe_fds, (void *)(size_t)pipes[i][0]);
        vec_push(&pipe_fds, (void *)(size_t)pipes[i][1]);
    }
    pid_t *pids = xmalloc(sizeof(pid_t) * (size_t)n);
    char ***argvs = xmalloc(sizeof(char **) * (size_t)n);
    int *statuses = xmalloc(sizeof(int) * (size_t)n);
    int *here = xmalloc(sizeof(int) * (size_t)n); /* runs in this shell */
    int any_here = 0;
    for (int i = 0; i < n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        argvs[i] = expand_argv(cmd);
        pids[i] = -1;
        statuses[i] = 0;
        here[i] = argvs[i][0] == NULL || cmd->builtin != B_NONE;
        any_here |= here[i];
        if (here[i]) continue;
        pids[i] = start_external(cmd, argvs[i], i > 0 ? pipes[i - 1][0] : -1, i + 1 < n ? pipes[i][1] : -1, &pipe_fds);
        if (pids[i] < 0) statuses[i] = last_status;
    }
    /* this shell keeps only the write ends of its own stages that feed a program */
    for (int i = 0; i + 1 < n; i++) {
        close(pipes[i][0]);
        if (!here[i] || here[i + 1]) close(pipes[i][1]);
    }
    sigset_t block, old;
    if (any_here) {
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        sigprocmask(SIG_BLOCK, &block, &old);
    }
    for (int i = 0; i < n; i++) {
        if (!here[i]) continue;
        const Cmd *cmd = p->cmds.v[i];
        int map[MAX_FD + 1];
        for (int k = 0; k <= MAX_FD; k++) map[k] = k;
        if (i > 0) map[0] = -1;
        if (i + 1 < n) map[1] = here[i + 1] ? DISCARD : pipes[i][1];
        Vec opened = {0};
        if (argvs[i][0] == NULL) statuses[i] = run_bare(cmd);
        else statuses[i] = builtin_fds(cmd, map, &opened) ? 1 : run_builtin(cmd, argvs[i], map);
        for (int k = 0; k < opened.n; k++) close((int)(size_t)opened.v[k]);
        if (i + 1 < n && !here[i + 1]) close(pipes[i][1]);
    }
    if (any_here) sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n; i++)
        if (pids[i] >= 0) statuses[i] = wait_status(pids[i]);
    return statuses[n - 1];
}

static int run_script(const Vec *pipelines) {
    for (int i = 0; i < pipelines->n; i++) {
        const Pipeline *p = pipelines->v[i];
        if (p->connector == C_AND && last_status != 0) continue;
        if (p->connector == C_OR && last_status == 0) continue;
        last_status = p->cmds.n == 1 ? run_simple(p->cmds.v[0]) : run_pipeline(p);
        fflush(stdout);
    }
    return last_status;
}

/* brush's SHLVL for its children: one higher, read as a u32 (1 when unreadable). */
static void bump_shlvl(void) {
    const char *level = getenv("SHLVL");
    unsigned long long v = 0;
    int ok = 1;
    if (level != NULL) {
        const char *d = level + (level[0] == '+');
        ok = d[0] != 0 && strspn(d, "0123456789") == strlen(d) && strlen(d) <= 10;
        if (ok) v = strtoull(d, NULL, 10);
        ok = ok && v <= 0xFFFFFFFFull;
    }
    char text[16];
    sprintf(text, "%llu", ok ? (v + 1) & 0xFFFFFFFFull : 1);
    var_set("SHLVL", text, 1);
}

int main(int argc, char **argv) {
    sh_argv = argv;
    if (argc < 3 || strcmp(argv[1], "-c") != 0) fallback();
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "BASH_FUNC_", 10) == 0) fallback();
        char *eq = strchr(*e, '=');
        if (eq == NULL) continue;
        char *name = xstrndup(*e, (size_t)(eq - *e));
        var_set(name, eq + 1, 1);
    }
    if (getenv("BASH_ENV") || getenv("ENV") || getenv("IFS")) fallback();
    bump_shlvl();
    if (var_find("PWD", 3) == NULL) {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd)) var_set("PWD", cwd, 1);
    }
    src = argv[2];
    Vec pipelines = parse_script();
    positional = argv + 3;
    npositional = argc - 3;
    if (npositional == 0) {
        positional = argv;
        npositional = 1;
    }
    int status = run_script(&pipelines);
    fflush(stdout);
    return status;
}
