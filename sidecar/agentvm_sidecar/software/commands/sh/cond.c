/* sh: [[ expression ]]: test's operators without word splitting or globbing,
   && || ! and ( ) inside, `==`/`!=` matching the right side as a pattern, and
   -eq and the other integer comparisons reading each side as $((...)) does.
   `=~` and -v/-o go to brush. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

enum { K_WORD, K_UNARY, K_BINARY, K_NOT, K_AND, K_OR };

struct Cond {
    int kind;
    char *op;
    Word *a, *b;
    struct Cond *left, *right;
};

static Cond *node(int kind) {
    Cond *c = xmalloc(sizeof *c);
    *c = (Cond){.kind = kind};
    return c;
}

/* The next token's text if it is an operator word (not quoted), else NULL. */
static char *operator_at(void) {
    skip_blanks();
    size_t n = 0;
    if ((at(pos) == '&' && at(pos + 1) == '&') || (at(pos) == '|' && at(pos + 1) == '|')) n = 2;
    else if (at(pos) == '(' || at(pos) == ')' || at(pos) == '<' || at(pos) == '>') n = 1;
    else if (at_word("]]") || at_word("!")) n = at(pos) == '!' ? 1 : 2;
    else {
        while (at(pos + n) && !is_meta(at(pos + n))) n++;
        if (at(pos) != '-' && at(pos) != '=' && at(pos) != '!') return NULL;
    }
    return xstrndup(src + pos, n);
}

static Word *operand(void) {
    skip_blanks();
    if (at(pos) == 0 || (is_meta(at(pos)) && at(pos) != '<' && at(pos) != '>') || at_word("]]")) fallback();
    Word *w = xmalloc(sizeof *w);
    *w = parse_plain_word();
    check_references(w);
    return w;
}

static Cond *parse_or(void);

static Cond *parse_primary(void) {
    char *op = operator_at();
    if (op && strcmp(op, "(") == 0) {
        pos++;
        Cond *c = parse_or();
        skip_blanks();
        if (at(pos) != ')') fallback();
        pos++;
        return c;
    }
    if (op && strcmp(op, "!") == 0) {
        pos++;
        Cond *c = node(K_NOT);
        c->left = parse_primary();
        return c;
    }
    if (op && (lookup(unary_tests, op) >= 0 || strcmp(op, "-a") == 0)) { /* -a FILE: -e */
        size_t save = pos;
        pos += strlen(op);
        char *next = operator_at();
        /* `-n ]]`, `-z == x`: the operator is the operand */
        if (next == NULL || lookup(binary_tests, next) < 0) {
            Cond *c = node(K_UNARY);
            c->op = op;
            c->a = operand();
            return c;
        }
        pos = save;
    } else if (op && op[0] == '-' && lookup(binary_tests, op) < 0 && strspn(op + 1, "0123456789") != strlen(op + 1)) {
        fallback(); /* -v, -o, -G...: brush's */
    }
    Cond *c = node(K_WORD);
    c->a = operand();
    char *bin = operator_at();
    if (bin && strcmp(bin, "=~") == 0) fallback();
    if (bin && lookup(binary_tests, bin) >= 0) {
        pos += strlen(bin);
        c->kind = K_BINARY;
        c->op = bin;
        c->b = operand();
    }
    return c;
}

/* A left-associative chain of `op` (node `kind`) between what `operand` parses. */
static Cond *parse_chain(const char *op, int kind, Cond *(*operand)(void)) {
    Cond *c = operand();
    for (;;) {
        char *at = operator_at();
        if (at == NULL || strcmp(at, op) != 0) return c;
        pos += 2;
        Cond *joined = node(kind);
        joined->left = c;
        joined->right = operand();
        c = joined;
    }
}

static Cond *parse_and(void) { return parse_chain("&&", K_AND, parse_primary); }

static Cond *parse_or(void) { return parse_chain("||", K_OR, parse_and); }

/* After `[[` (pos past it), through `]]`. */
Cond *parse_cond(void) {
    Cond *c = parse_or();
    skip_blanks();
    if (!at_word("]]")) fallback();
    pos += 2;
    return c;
}

static int integer_side(const Word *w, long long *v) {
    char *text = expand_single(w, 0);
    const char *error;
    *v = arith_eval(text, &error);
    free(text);
    if (error) expansion_failed("arithmetic evaluation error", error);
    return error == NULL;
}

int eval_cond(const Cond *c) {
    if (unwinding != U_NONE) return 0;
    switch (c->kind) {
    case K_NOT:
        return !eval_cond(c->left);
    case K_AND:
        return eval_cond(c->left) && eval_cond(c->right);
    case K_OR:
        return eval_cond(c->left) || eval_cond(c->right);
    case K_UNARY: {
        char *arg = expand_single(c->a, 0);
        int v = test_unary(strcmp(c->op, "-a") == 0 ? "-e" : c->op, arg);
        free(arg);
        return v;
    }
    case K_WORD: {
        char *a = expand_single(c->a, 0);
        int v = a[0] != 0;
        free(a);
        return v;
    }
    }
    const char *op = c->op;
    if (op[0] == '-' && op[1] != 'n' && op[1] != 'o' && strcmp(op, "-ef") != 0) {
        long long x, y;
        if (!integer_side(c->a, &x) || !integer_side(c->b, &y)) return 0;
        return compare_integers(x, op, y);
    }
    char *a = expand_single(c->a, 0);
    int v;
    if (strcmp(op, "=") == 0 || strcmp(op, "==") == 0 || strcmp(op, "!=") == 0) {
        char *pattern = pattern_of(c->b);
        v = (fnmatch(pattern, a, 0) == 0) == (op[0] != '!');
        free(pattern);
    } else {
        char *b = expand_single(c->b, 0);
        v = test_binary(a, op, b);
        free(b);
    }
    free(a);
    return v;
}
