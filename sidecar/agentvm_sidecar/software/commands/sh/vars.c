/* sh: shell variables, positional parameters and the environment children get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh.h"

extern char **environ;

Vec vars; /* of Var, few enough for a linear search */
char **positional;
int npositional;
int last_status;
int errexit, pipefail, nounset;

Var *var_find(const char *name, size_t len) {
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (strlen(v->name) == len && memcmp(v->name, name, len) == 0) return v;
    }
    return NULL;
}

void var_set(const char *name, const char *value, int export) {
    Var *v = var_find(name, strlen(name));
    if (v == NULL) {
        v = xmalloc(sizeof *v);
        *v = (Var){xstrdup(name), NULL, 0};
        vec_push(&vars, v);
    }
    if (value != NULL) {
        free(v->value);
        v->value = xstrdup(value);
    }
    v->exported |= export;
}

void var_unset(const char *name) {
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (strcmp(v->name, name) == 0) {
            memmove(vars.v + i, vars.v + i + 1, sizeof(void *) * (size_t)(vars.n - i));
            vars.n--;
            return;
        }
    }
}

/* A deep copy, for a subshell to restore. */
Vec vars_copy(void) {
    Vec copy = {0};
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i], *c = xmalloc(sizeof *c);
        *c = (Var){xstrdup(v->name), v->value ? xstrdup(v->value) : NULL, v->exported};
        vec_push(&copy, c);
    }
    return copy;
}

/* Variables brush defines or computes itself: a command that names one goes to
   brush. (Not those it takes from the environment, HOME or PATH, nor PWD and
   SHLVL, which this shell keeps as brush does.) */
static const char *const brush_variables[] = {
    "BASH", "BASHOPTS", "BASHPID", "BRUSH_VERSION", "CDPATH", "COLUMNS", "COMP_WORDBREAKS", "DIRSTACK",
    "ENV", "EPOCHREALTIME", "EPOCHSECONDS", "EUID", "FUNCNAME", "GLOBIGNORE", "GROUPS", "HISTCMD", "HISTFILE",
    "HOSTNAME", "HOSTTYPE", "IFS", "LINENO", "LINES", "MACHTYPE", "OLDPWD", "OPTARG", "OPTERR", "OPTIND",
    "OSTYPE", "PIPESTATUS", "POSIXLY_CORRECT", "PPID", "PS1", "PS2", "PS4", "RANDOM", "REPLY", "SECONDS",
    "SHELLOPTS", "SRANDOM", "UID", "_", NULL,
};

int is_brush_variable(const char *name, size_t len) {
    for (const char *const *p = brush_variables; *p; p++)
        if (strlen(*p) == len && memcmp(*p, name, len) == 0) return 1;
    return (len >= 4 && memcmp(name, "BASH", 4) == 0) || (len >= 5 && memcmp(name, "COMP_", 5) == 0);
}

const char *param_value(const char *name) {
    static char number[16];
    static Buf all;
    if (strcmp(name, "@") == 0 || strcmp(name, "*") == 0) {
        all.len = 0;
        buf_puts(&all, "");
        for (int i = 1; i < npositional; i++) {
            if (i > 1) buf_putc(&all, ' ');
            buf_puts(&all, positional[i]);
        }
        return all.s;
    }
    if (strcmp(name, "?") == 0) {
        snprintf(number, sizeof number, "%d", last_status);
        return number;
    }
    if (strcmp(name, "#") == 0) {
        snprintf(number, sizeof number, "%d", npositional > 0 ? npositional - 1 : 0);
        return number;
    }
    if (name[0] >= '0' && name[0] <= '9') {
        int n = atoi(name);
        return n < npositional ? positional[n] : "";
    }
    Var *v = var_find(name, strlen(name));
    return v && v->value ? v->value : "";
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
    snprintf(text, sizeof text, "%llu", ok ? (v + 1) & 0xFFFFFFFFull : 1);
    var_set("SHLVL", text, 1);
}

/* Every environment variable, exported; SHLVL one up and PWD set, as brush starts. */
void vars_from_environ(void) {
    for (char **e = environ; *e; e++) {
        char *eq = strchr(*e, '=');
        if (eq == NULL) continue;
        char *name = xstrndup(*e, (size_t)(eq - *e));
        var_set(name, eq + 1, 1);
        free(name);
    }
    bump_shlvl();
    if (var_find("PWD", 3) == NULL) {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd)) var_set("PWD", cwd, 1);
    }
}

static int compare_vars(const void *a, const void *b) {
    return strcmp((*(Var *const *)a)->name, (*(Var *const *)b)->name);
}

/* The environment a child gets: exported variables, then the command's own
   assignments (of Var) over them, sorted by name, as brush passes them. */
char **child_env(const Vec *assigns) {
    Vec list = {0};
    for (int i = 0; i < vars.n; i++) {
        Var *v = vars.v[i];
        if (v->exported && v->value != NULL) vec_push(&list, v);
    }
    for (int k = 0; assigns && k < assigns->n; k++) {
        Var *a = assigns->v[k];
        int replaced = 0;
        for (int i = 0; i < list.n; i++)
            if (strcmp(((Var *)list.v[i])->name, a->name) == 0) {
                list.v[i] = a;
                replaced = 1;
            }
        if (!replaced) vec_push(&list, a);
    }
    if (list.n > 1) qsort(list.v, (size_t)list.n, sizeof(void *), compare_vars);
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
    free(list.v);
    return env;
}
