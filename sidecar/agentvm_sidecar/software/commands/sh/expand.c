/* sh: word expansion: parameters, $(...), field splitting with the default IFS,
   and pathname expansion (sorted bytewise; dotfiles only by an explicit dot,
   never `.` or `..`; a pattern that matches nothing stays as it is). */
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sh.h"

int subst_status = -1;

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

static char *joined(const char *base, const char *name) {
    Buf b = {0};
    buf_puts(&b, base);
    if (base[0] && base[strlen(base) - 1] != '/') buf_putc(&b, '/');
    buf_puts(&b, name);
    return buf_take(&b);
}

/* Match the pattern's components below directory `base` ("" for the cwd),
   adding each full match to `out`. */
static void glob_below(const char *base, char **comps, int ncomps, Vec *out) {
    if (ncomps == 0) {
        vec_push(out, xstrdup(base));
        return;
    }
    const char *comp = comps[0];
    struct stat st;
    if (comp[0] == 0) { /* a trailing slash: directories only */
        if (base[0] && stat(base, &st) == 0 && S_ISDIR(st.st_mode)) vec_push(out, joined(base, ""));
        return;
    }
    if (!has_glob(comp)) {
        char *plain = xstrdup(comp);
        unescape(plain);
        char *path = joined(base, plain);
        if (lstat(path, &st) == 0) glob_below(path, comps + 1, ncomps - 1, out);
        free(path);
        free(plain);
        return;
    }
    DIR *dir = opendir(base[0] ? base : ".");
    if (dir == NULL) return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (name[0] == '.' && comp[0] != '.') continue;
        if (fnmatch(comp, name, FNM_PERIOD) != 0) continue;
        char *path = joined(base, name);
        if (ncomps == 1) {
            vec_push(out, path);
            continue;
        }
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) glob_below(path, comps + 1, ncomps - 1, out);
        free(path);
    }
    closedir(dir);
}

/* Pathname expansion of one field (its pattern has quoted characters escaped):
   the sorted matches, or the field itself when nothing matches. */
static void expand_pattern(char *pattern, char *text, Vec *out) {
    if (!has_glob(pattern)) {
        vec_push(out, text);
        return;
    }
    Vec comps = {0};
    char *copy = xstrdup(pattern);
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
    free(comps.v);
    free(copy);
    if (found.n == 0) {
        vec_push(out, text);
        return;
    }
    qsort(found.v, (size_t)found.n, sizeof(void *), compare_strings);
    for (int i = 0; i < found.n; i++) vec_push(out, found.v[i]);
    free(found.v);
    free(text);
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
        if (f->glob) expand_pattern(pattern, text, out);
        else vec_push(out, text);
        free(pattern);
    }
    free(f->text.s);
    free(f->pattern.s);
    *f = (Field){0};
}

/* An unquoted expansion's value: split at blanks, each piece a pattern. */
static void field_split(Field *f, const char *value, Vec *out) {
    for (const char *v = value; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n') {
            if (f->started || f->text.len) field_end(f, out);
            continue;
        }
        char c[2] = {*v, 0};
        field_add(f, c, 0);
        if (strchr("*?[", *v)) f->glob = 1;
    }
}

static void expand_part(Field *f, const Part *p, Vec *out, int split_literals);
static const char *lookup_param(const char *name, int *set);

/* $NAME's value; with set -u, an unset one is an error (the command does not run). */
static const char *checked_value(const char *name) {
    int set;
    const char *value = lookup_param(name, &set);
    if (!set && nounset) expansion_failed(name, "unbound variable");
    return value;
}

/* Whether parameter `name` is set, and its value. */
static const char *lookup_param(const char *name, int *set) {
    if (name[0] >= '0' && name[0] <= '9') *set = atoi(name) < npositional;
    else if (strchr("?#@*", name[0])) *set = 1;
    else {
        Var *v = var_find(name, strlen(name));
        *set = v != NULL && v->value != NULL;
    }
    return param_value(name);
}

/* The pattern of ${NAME#word} or of a case clause: unquoted parts match,
   quoted ones are literal. */
char *pattern_of(const Word *arg) {
    Field f = {0};
    for (int i = 0; i < arg->n; i++) {
        const Part *p = &arg->parts[i];
        int quoted = p->kind != P_LIT && p->kind != P_VAR && p->kind != P_SUBST && p->kind != P_PARAM;
        char *value = expand_single(&(Word){(Part *)p, 1, 0}, 0);
        field_add(&f, value, quoted);
        free(value);
    }
    free(f.text.s);
    return buf_take(&f.pattern);
}

/* `value` without the shortest or longest prefix or suffix `pattern` matches. */
static char *strip_match(const char *value, const char *pattern, int op) {
    size_t n = strlen(value);
    char *copy = xstrdup(value);
    for (size_t k = 0; k <= n; k++) {
        int prefix = op == OP_PREFIX || op == OP_LONG_PREFIX;
        int longest = op == OP_LONG_PREFIX || op == OP_LONG_SUFFIX;
        size_t cut = longest ? n - k : k; /* prefix length, or where the suffix starts */
        if (!prefix) cut = longest ? k : n - k;
        char saved = copy[cut];
        if (prefix) copy[cut] = 0;
        int hit = fnmatch(pattern, prefix ? copy : copy + cut, 0) == 0;
        copy[cut] = saved;
        if (hit) {
            if (prefix) memmove(copy, copy + cut, n - cut + 1);
            else copy[cut] = 0;
            return copy;
        }
    }
    return copy;
}

/* ${NAME<op>word}: the value to use, or NULL when `word` is to be expanded in
   its place (-, +, and = after assigning). */
static char *param_value_of(const Param *pm, int *use_word) {
    int set;
    const char *value = lookup_param(pm->name, &set);
    int unset = !set || (pm->colon && value[0] == 0);
    *use_word = 0;
    switch (pm->op) {
    case OP_LENGTH: {
        char number[24];
        snprintf(number, sizeof number, "%zu", strlen(value));
        return xstrdup(number);
    }
    case OP_DEFAULT:
        *use_word = unset;
        return unset ? NULL : xstrdup(value);
    case OP_ASSIGN:
        if (unset) {
            char *assigned = expand_single(&pm->arg, 0);
            var_set(pm->name, assigned, 0);
            return assigned;
        }
        return xstrdup(value);
    case OP_ALTERNATE:
        *use_word = !unset;
        return unset ? xstrdup("") : NULL;
    default: {
        char *pattern = pattern_of(&pm->arg);
        char *out = strip_match(value, pattern, pm->op);
        free(pattern);
        return out;
    }
    }
}

/* $((...))'s value; an error is brush's: the command does not run. */
static char *arithmetic(const Param *pm) {
    char *text = expand_single(&pm->arg, 0);
    const char *error;
    long long v = arith_eval(text, &error);
    free(text);
    if (error) expansion_failed("arithmetic evaluation error", error);
    char number[24];
    snprintf(number, sizeof number, "%lld", error ? 0 : v);
    return xstrdup(number);
}

/* $(...)'s output, without its trailing newlines. */
static char *substitute(const List *body) {
    char *s = run_capture(body);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') s[--n] = 0;
    return s;
}

/* One part into the fields; `split_literals`: unquoted text splits too (the
   word of an unquoted ${NAME:-word}). */
static void expand_part(Field *f, const Part *p, Vec *out, int split_literals) {
    switch (p->kind) {
    case P_LIT:
        if (split_literals) {
            field_split(f, p->text, out);
        } else {
            field_add(f, p->text, 0);
            if (strpbrk(p->text, "*?[")) f->glob = 1;
        }
        break;
    case P_QLIT:
        field_add(f, p->text, 1);
        break;
    case P_QVAR:
        if (strcmp(p->text, "@") == 0) { /* "$@": a field per parameter */
            for (int i = 1; i < npositional; i++) {
                if (i > 1) field_end(f, out);
                field_add(f, positional[i], 1);
            }
            break;
        }
        field_add(f, checked_value(p->text), 1);
        break;
    case P_TILDE:
        field_add(f, param_value("HOME"), 1);
        break;
    case P_VAR:
        field_split(f, checked_value(p->text), out);
        break;
    case P_QSUBST:
    case P_SUBST: {
        char *value = substitute(p->body);
        if (p->kind == P_QSUBST) field_add(f, value, 1);
        else field_split(f, value, out);
        free(value);
        break;
    }
    case P_ARITH: {
        char *value = arithmetic(p->param);
        field_add(f, value, 1);
        free(value);
        break;
    }
    case P_PARAM:
    case P_QPARAM: {
        int use_word;
        char *value = param_value_of(p->param, &use_word);
        if (use_word) {
            const Word *arg = &p->param->arg;
            for (int i = 0; i < arg->n; i++) expand_part(f, &arg->parts[i], out, p->kind == P_PARAM);
        } else if (p->kind == P_QPARAM) {
            field_add(f, value, 1);
        } else {
            field_split(f, value, out);
        }
        free(value);
        break;
    }
    }
}

/* A word's fields, after parameter expansion, command substitution, field
   splitting and pathname expansion. */
void expand_word(const Word *w, Vec *out) {
    Field f = {0};
    if (w->n == 2 && w->parts[0].kind == P_QLIT && w->parts[0].text[0] == 0 && w->parts[1].kind == P_QVAR &&
        strcmp(w->parts[1].text, "@") == 0 && npositional <= 1)
        return; /* "$@" without parameters is no word at all */
    for (int i = 0; i < w->n; i++) expand_part(&f, &w->parts[i], out, 0);
    field_end(&f, out);
}

/* An assignment's value, a redirection's target or a here-document's body: no
   splitting, no globbing. `skip_name`: the NAME= to leave out of an assignment. */
char *expand_single(const Word *w, size_t skip_name) {
    Buf b = {0};
    buf_puts(&b, "");
    for (int i = 0; i < w->n; i++) {
        const Part *p = &w->parts[i];
        if (p->kind == P_SUBST || p->kind == P_QSUBST) {
            char *value = substitute(p->body);
            buf_puts(&b, value);
            free(value);
            continue;
        }
        if (p->kind == P_ARITH) {
            char *value = arithmetic(p->param);
            buf_puts(&b, value);
            free(value);
            continue;
        }
        if (p->kind == P_PARAM || p->kind == P_QPARAM) {
            int use_word;
            char *value = param_value_of(p->param, &use_word);
            if (use_word) value = expand_single(&p->param->arg, 0);
            buf_puts(&b, value);
            free(value);
            continue;
        }
        const char *text = p->text;
        if (i == 0 && skip_name) text += skip_name + 1;
        if (p->kind == P_VAR || p->kind == P_QVAR) text = checked_value(p->text);
        else if (p->kind == P_TILDE) text = param_value("HOME");
        buf_puts(&b, text);
    }
    return buf_take(&b);
}

char **expand_argv(const Vec *words) {
    Vec argv = {0};
    for (int i = 0; i < words->n; i++) expand_word(words->v[i], &argv);
    if (argv.v == NULL) {
        argv.v = xmalloc(sizeof(void *));
        argv.v[0] = NULL;
    }
    return (char **)argv.v;
}
