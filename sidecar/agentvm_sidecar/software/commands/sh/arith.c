/* sh: $((...)) arithmetic: 64-bit integers, C's operators and precedence
   without assignment (`=`, `+=`, `++`... send the command to brush), `**`, and
   variables whose values are read as expressions in turn, as brush does. */
#include <stdlib.h>
#include <string.h>

#include "sh.h"

#define MAX_DEPTH 32

typedef struct {
    const char *s;
    size_t i;
    int skip;          /* inside the branch && || ?: do not take: no errors there */
    int depth;
    const char *error; /* the first error, or NULL */
} Arith;

static long long ternary(Arith *a);

static void fail(Arith *a, const char *message) {
    if (!a->skip && a->error == NULL) a->error = message;
}

static void blanks(Arith *a) {
    while (a->s[a->i] == ' ' || a->s[a->i] == '\t' || a->s[a->i] == '\n') a->i++;
}

/* The operator `op` next (and not the start of a longer one in `not_before`). */
static int take(Arith *a, const char *op, const char *not_before) {
    blanks(a);
    size_t n = strlen(op);
    if (strncmp(a->s + a->i, op, n) != 0) return 0;
    if (not_before && a->s[a->i + n] && strchr(not_before, a->s[a->i + n])) return 0;
    a->i += n;
    return 1;
}

static int is_name_char(int c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static long long number(Arith *a) {
    const char *start = a->s + a->i;
    char *end;
    long long v;
    if (start[0] == '0' && (start[1] == 'x' || start[1] == 'X')) v = (long long)strtoull(start + 2, &end, 16);
    else if (start[0] == '0') v = (long long)strtoull(start, &end, 8);
    else v = (long long)strtoull(start, &end, 10);
    if (is_name_char((unsigned char)*end) || (start[0] == '0' && start[1] == 'x' && end == start + 2)) {
        fail(a, "invalid number");
        while (is_name_char((unsigned char)a->s[a->i])) a->i++;
        return 0;
    }
    a->i = (size_t)(end - a->s);
    return v;
}

static long long variable(Arith *a) {
    size_t start = a->i;
    while (is_name_char((unsigned char)a->s[a->i])) a->i++;
    char *name = xstrndup(a->s + start, a->i - start);
    Var *v = var_find(name, strlen(name));
    free(name);
    if (v == NULL || v->value == NULL || v->value[0] == 0) return 0;
    if (a->depth >= MAX_DEPTH) {
        fail(a, "expression recursion level exceeded");
        return 0;
    }
    Arith inner = {v->value, 0, a->skip, a->depth + 1, NULL};
    long long value = ternary(&inner);
    blanks(&inner);
    if (inner.s[inner.i]) fail(&inner, "syntax error");
    if (inner.error) fail(a, inner.error);
    return value;
}

static long long primary(Arith *a) {
    blanks(a);
    int c = (unsigned char)a->s[a->i];
    if (take(a, "(", NULL)) {
        long long v = ternary(a);
        if (!take(a, ")", NULL)) fail(a, "syntax error");
        return v;
    }
    if (c >= '0' && c <= '9') return number(a);
    if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return variable(a);
    fail(a, "syntax error");
    return 0;
}

static long long unary(Arith *a) {
    if (take(a, "-", "-=")) return -(unsigned long long)unary(a);
    if (take(a, "+", "+=")) return unary(a);
    if (take(a, "!", "=")) return !unary(a);
    if (take(a, "~", NULL)) return ~unary(a);
    return primary(a);
}

static long long power(Arith *a) {
    long long base = unary(a);
    if (!take(a, "**", NULL)) return base;
    long long exponent = power(a);
    if (exponent < 0) {
        fail(a, "exponent less than 0");
        return 0;
    }
    unsigned long long result = 1;
    while (exponent-- > 0) result *= (unsigned long long)base;
    return (long long)result;
}

static long long product(Arith *a) {
    long long v = power(a);
    for (;;) {
        int op = take(a, "*", "*=") ? '*' : take(a, "/", "=") ? '/' : take(a, "%", "=") ? '%' : 0;
        if (!op) return v;
        long long r = power(a);
        if (op == '*') {
            v = (long long)((unsigned long long)v * (unsigned long long)r);
        } else if (r == 0) {
            fail(a, "division by zero");
            v = 0;
        } else if (r == -1) {
            v = op == '/' ? (long long)(0 - (unsigned long long)v) : 0; /* no trap on LLONG_MIN / -1 */
        } else {
            v = op == '/' ? v / r : v % r;
        }
    }
}

static long long sum(Arith *a) {
    long long v = product(a);
    for (;;) {
        if (take(a, "+", "+=")) v = (long long)((unsigned long long)v + (unsigned long long)product(a));
        else if (take(a, "-", "-=")) v = (long long)((unsigned long long)v - (unsigned long long)product(a));
        else return v;
    }
}

static long long shift(Arith *a) {
    long long v = sum(a);
    for (;;) {
        if (take(a, "<<", "=")) v = (long long)((unsigned long long)v << (sum(a) & 63));
        else if (take(a, ">>", "=")) v >>= sum(a) & 63;
        else return v;
    }
}

static long long compare(Arith *a) {
    long long v = shift(a);
    for (;;) {
        if (take(a, "<=", NULL)) v = v <= shift(a);
        else if (take(a, ">=", NULL)) v = v >= shift(a);
        else if (take(a, "<", "<")) v = v < shift(a);
        else if (take(a, ">", ">")) v = v > shift(a);
        else return v;
    }
}

static long long equality(Arith *a) {
    long long v = compare(a);
    for (;;) {
        if (take(a, "==", NULL)) v = v == compare(a);
        else if (take(a, "!=", NULL)) v = v != compare(a);
        else return v;
    }
}

static long long bit_and(Arith *a) {
    long long v = equality(a);
    while (take(a, "&", "&=")) v &= equality(a);
    return v;
}

static long long bit_xor(Arith *a) {
    long long v = bit_and(a);
    while (take(a, "^", "=")) v ^= bit_and(a);
    return v;
}

static long long bit_or(Arith *a) {
    long long v = bit_xor(a);
    while (take(a, "|", "|=")) v |= bit_xor(a);
    return v;
}

/* && and ||: the side not taken is still parsed, its errors ignored */
static long long logical_and(Arith *a) {
    long long v = bit_or(a);
    while (take(a, "&&", NULL)) {
        int skip = a->skip;
        a->skip |= !v;
        long long r = bit_or(a);
        a->skip = skip;
        v = v && r;
    }
    return v;
}

static long long logical_or(Arith *a) {
    long long v = logical_and(a);
    while (take(a, "||", NULL)) {
        int skip = a->skip;
        a->skip |= v != 0;
        long long r = logical_and(a);
        a->skip = skip;
        v = v || r;
    }
    return v;
}

static long long ternary(Arith *a) {
    long long cond = logical_or(a);
    if (!take(a, "?", NULL)) return cond;
    int skip = a->skip;
    a->skip = skip || !cond;
    long long yes = ternary(a);
    if (!take(a, ":", NULL)) fail(a, "syntax error");
    a->skip = skip || cond;
    long long no = ternary(a);
    a->skip = skip;
    return cond ? yes : no;
}

/* `text` evaluated; *error is NULL, or what went wrong. */
long long arith_eval(const char *text, const char **error) {
    Arith a = {text, 0, 0, 0, NULL};
    long long v = ternary(&a);
    while (take(&a, ",", NULL)) v = ternary(&a);
    blanks(&a);
    if (a.s[a.i]) fail(&a, "syntax error");
    *error = a.error;
    return v;
}

/* Whether `text` (its expansions stood in by 0) is an expression we evaluate:
   no assignments, no base#digits, and well formed. */
int arith_supported(const char *text) {
    for (const char *p = text; *p; p++) {
        if (*p == '#' || (p[0] == '+' && p[1] == '+') || (p[0] == '-' && p[1] == '-')) return 0;
        if (*p == '=' && p[1] != '=' && (p == text || !strchr("=!<>", p[-1]))) return 0;
    }
    const char *error;
    arith_eval(text, &error);
    return error == NULL || strcmp(error, "division by zero") == 0;
}
