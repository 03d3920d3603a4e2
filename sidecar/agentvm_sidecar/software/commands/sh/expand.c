/* sh: word expansion: parameters, $(...), field splitting with the default IFS,
   and pathname expansion (sorted bytewise; dotfiles only by an explicit dot,
   never `.` or `..`; a pattern that matches nothing stays as it is). */
#include <dirent.h>
#include <fnmatch.h>
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

/* $(...)'s output, without its trailing newlines. */
static char *substitute(const List *body) {
    char *s = run_capture(body);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') s[--n] = 0;
    return s;
}

/* A word's fields, after parameter expansion, command substitution, field
   splitting and pathname expansion. */
void expand_word(const Word *w, Vec *out) {
    Field f = {0};
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
            field_add(&f, param_value(p->text), 1);
            break;
        case P_TILDE:
            field_add(&f, param_value("HOME"), 1);
            break;
        case P_VAR:
            field_split(&f, param_value(p->text), out);
            break;
        case P_QSUBST:
        case P_SUBST: {
            char *value = substitute(p->body);
            if (p->kind == P_QSUBST) field_add(&f, value, 1);
            else field_split(&f, value, out);
            free(value);
            break;
        }
        }
    }
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
        const char *text = p->text;
        if (i == 0 && skip_name) text += skip_name + 1;
        if (p->kind == P_VAR || p->kind == P_QVAR) text = param_value(p->text);
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
