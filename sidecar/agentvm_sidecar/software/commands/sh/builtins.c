/* sh: the builtins run here. Every other builtin or keyword of brush (or bash)
   sends the command line to brush (builtin_number). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sh.h"

static const char *const builtin_names[] = {
    "", "echo", "true", "false", ":", "test", "[", "pwd", "printf", "cd", "exit", "export", "unset", "break",
    "continue", "read", "set", "shift", "", "local", "return", NULL,
};

/* brush's builtins and keywords, and bash's (plain_command.py keeps the same list) */
static const char *const shell_names[] = {
    ".", "[[", "]]", "{", "}", "alias", "bg", "bind", "builtin", "caller", "case", "command", "compgen",
    "complete", "compopt", "coproc", "declare", "dirs", "disown", "do", "done", "elif", "else", "enable", "esac",
    "eval", "exec", "fc", "fg", "fi", "for", "function", "getopts", "hash", "help", "history", "if", "in", "jobs",
    "kill", "let", "logout", "mapfile", "popd", "pushd", "readarray", "readonly",
    "select", "shopt", "source", "suspend", "then", "time", "times", "trap", "type",
    "typeset", "ulimit", "umask", "unalias", "until", "wait", "while", "brushctl", "brushinfo", NULL,
};

const char *const unary_tests[] = {
    "-e", "-f", "-d", "-s", "-L", "-h", "-r", "-w", "-x", "-b", "-c", "-p", "-S", "-t", "-z", "-n", NULL,
};
const char *const binary_tests[] = {
    "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef", NULL,
};

static const char *const set_options[] = {"errexit", "nounset", "pipefail", NULL};

static int run_set(char **args);
static int run_local(const Cmd *cmd);
static int run_command_v(const char *name, const Io *io);

/* The builtin `name` is, B_NONE for a program, -1 for one of brush's only. */
int builtin_number_quiet(const char *name) {
    int b = lookup(builtin_names, name);
    if (b > 0) return b;
    return lookup(shell_names, name) >= 0 ? -1 : B_NONE;
}

int builtin_number(const char *name) {
    int b = lookup(builtin_names, name);
    if (b > 0) return b;
    if (lookup(shell_names, name) >= 0) fallback();
    return B_NONE;
}

static int valid_name(const char *t) {
    for (size_t k = 0; t[k]; k++)
        if (!(t[k] == '_' || (t[k] >= 'A' && t[k] <= 'Z') || (t[k] >= 'a' && t[k] <= 'z') ||
              (k > 0 && t[k] >= '0' && t[k] <= '9')))
            return 0;
    return t[0] != 0;
}

static int is_number(const char *t) {
    if (t == NULL || t[0] == 0) return 0;
    return strspn(t, "0123456789") == strlen(t) && strlen(t) <= 9;
}

/* What the parse can tell about a builtin's arguments; anything brush would
   answer in its own way (options, usage errors) goes to brush. */
void check_builtin(const Cmd *cmd) {
    int nargs = cmd->words.n - 1;
    Word **args = (Word **)cmd->words.v + 1;
    switch (cmd->builtin) {
    case B_EXIT:
    case B_BREAK:
    case B_CONTINUE:
        if (nargs > 1) fallback();
        if (nargs == 1) {
            char *t = static_text(args[0]);
            if (!is_number(t) || (cmd->builtin != B_EXIT && atoi(t) == 0)) fallback();
        }
        break;
    case B_PWD:
        if (nargs > 0) fallback();
        break;
    case B_PRINTF: {
        char *format = nargs > 0 ? static_text(args[0]) : NULL;
        if (nargs == 0 || (format && (format[0] == '-' || !check_printf_format(format)))) fallback();
        break;
    }
    case B_SHIFT:
    case B_RETURN:
        if (nargs > 1 || (nargs == 1 && !is_number(static_text(args[0])))) fallback();
        break;
    case B_LOCAL:
        for (int i = 0; i < nargs; i++) {
            size_t n = assignment_name(args[i]);
            char *t = n ? xstrndup(args[i]->parts[0].text, n) : static_text(args[i]);
            if (t == NULL || !valid_name(t) || is_brush_variable(t, strlen(t))) fallback();
            for (int k = 0; n && k < args[i]->n; k++)
                if (args[i]->parts[k].kind == P_LIT && strchr(args[i]->parts[k].text, '~')) fallback();
        }
        if (nargs == 0) fallback();
        break;
    case B_SET: {
        /* set -e/-u/+e/+u (together too), -o/+o errexit|nounset|pipefail, and -- ARGS */
        for (int i = 0; i < nargs; i++) {
            char *t = static_text(args[i]);
            if (t == NULL || (t[0] != '-' && t[0] != '+') || t[1] == 0) fallback();
            if (strcmp(t, "--") == 0) break;
            size_t letters = strspn(t + 1, "euo");
            if (letters != strlen(t + 1)) fallback(); /* -x, -f, -v...: brush's */
            if (strchr(t + 1, 'o')) {
                char *option = i + 1 < nargs ? static_text(args[i + 1]) : NULL;
                if (t[strlen(t) - 1] != 'o' || strchr(t + 1, 'o') != t + strlen(t) - 1 || option == NULL ||
                    lookup(set_options, option) < 0)
                    fallback();
                i++;
            }
        }
        if (nargs == 0) fallback(); /* lists the variables */
        break;
    }
    case B_COMMAND_V: {
        /* brush answers for the first name only, and not for keywords */
        static const char *const keywords[] = {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
            "while", "until", "for", "in", "function", "select", "time", "coproc", "{", "}", "!", "[[", "]]", NULL};
        char *name = nargs == 2 ? static_text(args[1]) : NULL;
        if (name == NULL || lookup(keywords, name) >= 0) fallback();
        break;
    }
    case B_READ:
        /* read [-r] NAME...: no name (REPLY), other options and brush variables are brush's */
        for (int i = 0; i < nargs; i++) {
            char *t = static_text(args[i]);
            if (t == NULL) fallback();
            if (i == 0 && strcmp(t, "-r") == 0) continue;
            if (t[0] == '-' || is_brush_variable(t, strlen(t)) || !valid_name(t)) fallback();
        }
        if (nargs == 0 || (nargs == 1 && strcmp(static_text(args[0]), "-r") == 0)) fallback();
        break;
    case B_CD:
        if (nargs > 1 || var_find("CDPATH", 6) != NULL || (nargs == 0 && var_find("HOME", 4) == NULL)) fallback();
        if (nargs == 1) {
            char *t = static_text(args[0]);
            if (args[0]->dynamic || (t != NULL && t[0] == '-')) fallback();
        }
        break;
    case B_TEST:
    case B_BRACKET:
        /* an operator brush knows and we do not: -o OPTION, -v NAME, -G... */
        for (int i = 0; i < nargs; i++) {
            char *t = static_text(args[i]);
            if (t && t[0] == '-' && t[1] && lookup(unary_tests, t) < 0 && lookup(binary_tests, t) < 0 &&
                strcmp(t, "-a") != 0 && strcmp(t, "-o") != 0 && strspn(t + 1, "0123456789") != strlen(t + 1))
                fallback();
        }
        break;
    case B_EXPORT:
    case B_UNSET:
        if (nargs == 0) fallback(); /* lists the variables */
        for (int i = 0; i < nargs; i++) {
            size_t n = assignment_name(args[i]);
            if (n > 0 && cmd->builtin == B_EXPORT) {
                for (int k = 0; k < args[i]->n; k++)
                    if (args[i]->parts[k].kind == P_LIT && strchr(args[i]->parts[k].text, '~')) fallback();
                if (is_brush_variable(args[i]->parts[0].text, n)) fallback();
                continue;
            }
            if (cmd->builtin == B_EXPORT) fallback(); /* brush exports an unset name its own way */
            char *t = static_text(args[i]);
            if (t == NULL || is_brush_variable(t, strlen(t)) || !valid_name(t)) fallback();
        }
        break;
    }
}

/* ---- echo ---- */

int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void put_utf8(Buf *b, unsigned long cp) {
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

/* echo -e's escapes in `s` (printf's %b too); returns 1 at \c (no more output at all). */
int echo_escapes(Buf *out, const char *s) {
    static const char simple[] = "a\ab\be\033E\033f\fn\nr\rt\tv\v\\\\";
    for (; *s; s++) {
        if (*s != '\\' || s[1] == 0) {
            buf_putc(out, *s);
            continue;
        }
        int c = (unsigned char)*++s;
        const char *hit = strchr(simple, c);
        if (hit && (hit - simple) % 2 == 0) {
            buf_putc(out, hit[1]);
        } else if (c == 'c') {
            return 1;
        } else if (c == '0') {
            int v = 0;
            for (int k = 0; k < 3 && s[1] >= '0' && s[1] <= '7'; k++) v = v * 8 + (*++s - '0');
            buf_putc(out, (char)v);
        } else if ((c == 'x' || c == 'u' || c == 'U') && hex_value((unsigned char)s[1]) >= 0) {
            unsigned long v = 0;
            int max = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            for (int k = 0; k < max && hex_value((unsigned char)s[1]) >= 0; k++)
                v = v * 16 + (unsigned long)hex_value((unsigned char)*++s);
            if (c == 'x') buf_putc(out, (char)v);
            else put_utf8(out, v);
        } else {
            buf_putc(out, '\\');
            buf_putc(out, (char)c);
        }
    }
    return 0;
}

static int run_echo(char **args, const Io *io) {
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
    int status = out.len ? io_write(io, 1, out.s, out.len) : 0;
    free(out.s);
    return status;
}

/* ---- test and [ ---- */

static int file_test(const char *op, const char *path) {
    struct stat st;
    if (op[1] == 'L' || op[1] == 'h') return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
    if (op[1] == 'r') return access(path, R_OK) == 0;
    if (op[1] == 'w') return access(path, W_OK) == 0;
    if (op[1] == 'x') return access(path, X_OK) == 0;
    if (stat(path, &st) != 0) return 0;
    switch (op[1]) {
    case 'e': return 1;
    case 'f': return S_ISREG(st.st_mode);
    case 'd': return S_ISDIR(st.st_mode);
    case 's': return st.st_size > 0;
    case 'b': return S_ISBLK(st.st_mode);
    case 'c': return S_ISCHR(st.st_mode);
    case 'p': return S_ISFIFO(st.st_mode);
    case 'S': return S_ISSOCK(st.st_mode);
    }
    return 0;
}

int test_unary(const char *op, const char *arg) {
    if (strcmp(op, "-z") == 0) return arg[0] == 0;
    if (strcmp(op, "-n") == 0) return arg[0] != 0;
    if (strcmp(op, "-t") == 0) return is_number(arg) && isatty(atoi(arg));
    return file_test(op, arg);
}

/* An integer as brush reads one (an optional sign and digits, nothing around). */
static int integer(const char *t, long long *v) {
    const char *d = t + (t[0] == '-' || t[0] == '+');
    if (d[0] == 0 || strspn(d, "0123456789") != strlen(d) || strlen(d) > 18) return 0;
    *v = strtoll(t, NULL, 10);
    return 1;
}

int test_binary(const char *a, const char *op, const char *b) {
    if (strcmp(op, "=") == 0 || strcmp(op, "==") == 0) return strcmp(a, b) == 0;
    if (strcmp(op, "!=") == 0) return strcmp(a, b) != 0;
    if (strcmp(op, "<") == 0) return strcmp(a, b) < 0;
    if (strcmp(op, ">") == 0) return strcmp(a, b) > 0;
    if (op[1] == 'n' || op[1] == 'o' || strcmp(op, "-ef") == 0) {
        struct stat sa, sb;
        int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
        if (strcmp(op, "-ef") == 0) return ha && hb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        if (strcmp(op, "-nt") == 0) return ha && (!hb || sa.st_mtime > sb.st_mtime);
        return hb && (!ha || sa.st_mtime < sb.st_mtime);
    }
    long long x, y;
    if (!integer(a, &x) || !integer(b, &y)) return 0; /* brush: false, silently */
    return compare_integers(x, op, y);
}

/* -eq -ne -lt -le -gt -ge */
int compare_integers(long long x, const char *op, long long y) {
    if (strcmp(op, "-eq") == 0) return x == y;
    if (strcmp(op, "-ne") == 0) return x != y;
    if (strcmp(op, "-lt") == 0) return x < y;
    if (strcmp(op, "-le") == 0) return x <= y;
    if (strcmp(op, "-gt") == 0) return x > y;
    return x >= y;
}

/* -o of -a of primaries, for more than four arguments */
typedef struct {
    char **args;
    int n, i;
} TestParse;

static int test_or(TestParse *t);

static int test_primary(TestParse *t) {
    if (t->i >= t->n) return 0;
    char *a = t->args[t->i];
    if (strcmp(a, "!") == 0) {
        t->i++;
        return !test_primary(t);
    }
    if (strcmp(a, "(") == 0) {
        t->i++;
        int v = test_or(t);
        if (t->i < t->n && strcmp(t->args[t->i], ")") == 0) t->i++;
        return v;
    }
    if (t->i + 2 < t->n && lookup(binary_tests, t->args[t->i + 1]) >= 0) {
        t->i += 3;
        return test_binary(a, t->args[t->i - 2], t->args[t->i - 1]);
    }
    if (t->i + 1 < t->n && lookup(unary_tests, a) >= 0) {
        t->i += 2;
        return test_unary(a, t->args[t->i - 1]);
    }
    t->i++;
    return a[0] != 0;
}

static int test_and(TestParse *t) {
    int v = test_primary(t);
    while (t->i < t->n && strcmp(t->args[t->i], "-a") == 0) {
        t->i++;
        v = test_primary(t) && v;
    }
    return v;
}

static int test_or(TestParse *t) {
    int v = test_and(t);
    while (t->i < t->n && strcmp(t->args[t->i], "-o") == 0) {
        t->i++;
        v = test_and(t) || v;
    }
    return v;
}

/* POSIX's rules by argument count, as bash applies them */
static int test_args(char **a, int n) {
    switch (n) {
    case 0:
        return 0;
    case 1:
        return a[0][0] != 0;
    case 2:
        if (strcmp(a[0], "!") == 0) return !test_args(a + 1, 1);
        if (lookup(unary_tests, a[0]) >= 0) return test_unary(a[0], a[1]);
        break;
    case 3:
        if (lookup(binary_tests, a[1]) >= 0) return test_binary(a[0], a[1], a[2]);
        if (strcmp(a[1], "-a") == 0) return a[0][0] && a[2][0];
        if (strcmp(a[1], "-o") == 0) return a[0][0] || a[2][0];
        if (strcmp(a[0], "!") == 0) return !test_args(a + 1, 2);
        if (strcmp(a[0], "(") == 0 && strcmp(a[2], ")") == 0) return test_args(a + 1, 1);
        break;
    case 4:
        if (strcmp(a[0], "!") == 0) return !test_args(a + 1, 3);
        if (strcmp(a[0], "(") == 0 && strcmp(a[3], ")") == 0) return test_args(a + 1, 2);
        break;
    }
    TestParse t = {a, n, 0};
    return test_or(&t);
}

static int run_test(char **args, int bracket, const Io *io) {
    int n = 0;
    while (args[n]) n++;
    if (bracket) {
        if (n == 0 || strcmp(args[n - 1], "]") != 0) {
            sh_error(io, E_BARE, "[: missing ']'\n");
            return 2;
        }
        n--;
    }
    return test_args(args, n) ? 0 : 1;
}

/* ---- cd and pwd ---- */

/* $PWD joined with `dir` and made canonical lexically, as cd -L does. */
static char *logical_path(const char *dir) {
    Buf joined = {0};
    if (dir[0] != '/') {
        const char *pwd = param_value("PWD");
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
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(out.s, '/');
            out.len = slash ? (size_t)(slash - out.s) : 0;
            out.s[out.len] = 0;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            buf_putc(&out, '/');
            buf_putn(&out, p, n);
        }
        p = end;
    }
    free(joined.s);
    if (out.len == 0) buf_putc(&out, '/');
    return buf_take(&out);
}

static int run_cd(char **args, const Io *io) {
    const char *dir = args[0] ? args[0] : param_value("HOME");
    char *path = logical_path(dir);
    if (chdir(path) != 0) {
        if (errno == ENOTDIR) sh_error(io, E_RED, "cd: not a directory: %s\n", path);
        else sh_error(io, E_RED, "cd: i/o error: %s (os error %d)\n", strerror(errno), errno);
        free(path);
        return 1;
    }
    var_set("OLDPWD", param_value("PWD"), 1);
    var_set("PWD", path, 1);
    free(path);
    return 0;
}

static int run_pwd(const Io *io) {
    Buf out = {0};
    buf_puts(&out, param_value("PWD"));
    buf_putc(&out, '\n');
    int status = io_write(io, 1, out.s, out.len);
    free(out.s);
    return status;
}

extern int loop_depth_now; /* run.c: loops running around this command */

/* ---- functions ---- */

typedef struct {
    char **positional;
    int npositional;
    Vec saved; /* of Var: each local's value before (value NULL: it was unset) */
} Frame;

static Vec frames; /* of Frame, the innermost call last */

void enter_function(char **argv) {
    Frame *f = xmalloc(sizeof *f);
    *f = (Frame){positional, npositional, {0}};
    vec_push(&frames, f);
    int n = 0;
    while (argv[n]) n++;
    char **params = xmalloc(sizeof(char *) * (size_t)(n + 1));
    params[0] = positional[0]; /* $0 stays the shell's */
    for (int i = 1; i < n; i++) params[i] = xstrdup(argv[i]);
    params[n] = NULL;
    positional = params;
    npositional = n;
}

void leave_function(void) {
    Frame *f = frames.v[--frames.n];
    for (int i = f->saved.n - 1; i >= 0; i--) {
        Var *old = f->saved.v[i];
        if (old->value) var_set(old->name, old->value, 0);
        else var_unset(old->name);
        Var *now = var_find(old->name, strlen(old->name));
        if (now) now->exported = old->exported;
    }
    positional = f->positional;
    npositional = f->npositional;
}

/* local NAME[=value]...: the value before is put back when the function returns */
static int run_local(const Cmd *cmd) {
    Frame *f = frames.v[frames.n - 1];
    for (int i = 1; i < cmd->words.n; i++) {
        const Word *w = cmd->words.v[i];
        size_t n = assignment_name(w);
        char *name = n ? xstrndup(w->parts[0].text, n) : static_text(w);
        int known = 0;
        for (int k = 0; k < f->saved.n; k++) known |= strcmp(((Var *)f->saved.v[k])->name, name) == 0;
        if (!known) {
            Var *now = var_find(name, strlen(name)), *old = xmalloc(sizeof *old);
            *old = (Var){xstrdup(name), now && now->value ? xstrdup(now->value) : NULL, now ? now->exported : 0};
            vec_push(&f->saved, old);
        }
        char *value = n ? expand_single(w, n) : NULL;
        if (value) var_set(name, value, 0);
        else var_unset(name);
        free(value);
    }
    return 0;
}

static int run_set(char **args) {
    for (int i = 0; args[i]; i++) {
        if (strcmp(args[i], "--") == 0) {
            char **rest = args + i + 1;
            int n = 0;
            while (rest[n]) n++;
            char **params = xmalloc(sizeof(char *) * (size_t)(n + 2));
            params[0] = positional[0];
            for (int k = 0; k < n; k++) params[k + 1] = xstrdup(rest[k]);
            params[n + 1] = NULL;
            positional = params;
            npositional = n + 1;
            return 0;
        }
        int on = args[i][0] == '-';
        for (const char *o = args[i] + 1; *o; o++) {
            if (*o == 'e') errexit = on;
            else if (*o == 'u') nounset = on;
            else if (*o == 'o') {
                const char *option = args[++i];
                if (strcmp(option, "errexit") == 0) errexit = on;
                else if (strcmp(option, "nounset") == 0) nounset = on;
                else pipefail = on;
            }
        }
    }
    return 0;
}

/* command -v NAME: a builtin's name, or where a program is found */
static int run_command_v(const char *name, const Io *io) {
    Buf out = {0};
    if (lookup(builtin_names, name) > 0 || lookup(shell_names, name) >= 0) {
        buf_puts(&out, name);
    } else if (strchr(name, '/')) {
        if (access(name, X_OK) == 0) buf_puts(&out, name);
    } else {
        const char *dirs = param_value("PATH");
        for (;;) {
            size_t n = strcspn(dirs, ":");
            Buf path = {0};
            buf_putn(&path, n ? dirs : ".", n ? n : 1);
            buf_putc(&path, '/');
            buf_puts(&path, name);
            struct stat st;
            int found = stat(path.s, &st) == 0 && S_ISREG(st.st_mode) && access(path.s, X_OK) == 0;
            if (found) buf_puts(&out, path.s);
            free(path.s);
            if (found || dirs[n] == 0) break;
            dirs += n + 1;
        }
    }
    if (out.len == 0) return 1;
    buf_putc(&out, '\n');
    int status = io_write(io, 1, out.s, out.len);
    free(out.s);
    return status;
}

int run_builtin(const Cmd *cmd, char **argv, const Io *io) {
    switch (cmd->builtin) {
    case B_ECHO:
        return run_echo(argv + 1, io);
    case B_TRUE:
    case B_COLON:
        return 0;
    case B_FALSE:
        return 1;
    case B_TEST:
    case B_BRACKET:
        return run_test(argv + 1, cmd->builtin == B_BRACKET, io);
    case B_PWD:
        return run_pwd(io);
    case B_PRINTF:
        return run_printf(argv + 1, io);
    case B_READ:
        return run_read(argv + 1, io);
    case B_CD:
        return run_cd(argv + 1, io);
    case B_EXIT:
        unwinding = U_EXIT;
        return argv[1] ? atoi(argv[1]) & 0xFF : last_status;
    case B_BREAK:
    case B_CONTINUE: {
        int levels = argv[1] ? atoi(argv[1]) : 1;
        unwinding = cmd->builtin == B_BREAK ? U_BREAK : U_CONTINUE;
        unwind_levels = levels < loop_depth_now ? levels : loop_depth_now;
        return 0;
    }
    case B_EXPORT:
        for (int i = 1; i < cmd->words.n; i++) {
            const Word *w = cmd->words.v[i];
            size_t n = assignment_name(w);
            if (n == 0) {
                var_set(static_text(w), NULL, 1);
                continue;
            }
            char *name = xstrndup(w->parts[0].text, n);
            char *value = expand_single(w, n);
            var_set(name, value, 1);
            free(name);
            free(value);
        }
        return 0;
    case B_UNSET:
        for (int i = 1; argv[i]; i++) var_unset(argv[i]);
        return 0;
    case B_SHIFT: {
        int n = argv[1] ? atoi(argv[1]) : 1;
        if (n > npositional - 1) return 1;
        char **params = xmalloc(sizeof(char *) * (size_t)(npositional - n + 1));
        params[0] = positional[0]; /* $0 stays; a subshell keeps the old array */
        memcpy(params + 1, positional + 1 + n, sizeof(char *) * (size_t)(npositional - n));
        positional = params;
        npositional -= n;
        return 0;
    }
    case B_SET:
        return run_set(argv + 1);
    case B_COMMAND_V:
        return run_command_v(argv[2], io);
    case B_RETURN:
        unwinding = U_RETURN;
        return argv[1] ? atoi(argv[1]) & 0xFF : last_status;
    case B_LOCAL:
        return run_local(cmd);
    }
    return 0;
}
