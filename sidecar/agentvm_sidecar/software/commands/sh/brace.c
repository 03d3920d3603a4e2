/* sh: brace expansion, on a word's source text before anything else, as bash
   does it: `a{b,c}d` is abd acd, `{1..3}` `{a..c}` `{01..10..3}` are sequences,
   braces nest, quoted braces and those of ${...} and $(...) are text, and a
   brace with neither a comma nor a sequence inside stays as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh.h"

#define MAX_WORDS 10000 /* more goes to brush */

/* Past the quoted run, ${...} or $(...) starting at s[i]; i itself if none. */
static size_t skip_quoted(const char *s, size_t n, size_t i) {
    if (s[i] == '\\' && i + 1 < n) return i + 2;
    if (s[i] == '\'') {
        const char *end = memchr(s + i + 1, '\'', n - i - 1);
        return end ? (size_t)(end - s) + 1 : n;
    }
    if (s[i] == '"') {
        for (size_t k = i + 1; k < n; k++) {
            if (s[k] == '\\') k++;
            else if (s[k] == '"') return k + 1;
        }
        return n;
    }
    if (s[i] == '$' && i + 1 < n && (s[i + 1] == '{' || s[i + 1] == '(')) {
        char open = s[i + 1], close = open == '{' ? '}' : ')';
        int depth = 0;
        for (size_t k = i + 1; k < n; k++) {
            if (s[k] == '\\' || s[k] == '\'' || s[k] == '"') {
                k = skip_quoted(s, n, k) - 1;
                continue;
            }
            if (s[k] == open) depth++;
            else if (s[k] == close && --depth == 0) return k + 1;
        }
        return n;
    }
    return i;
}

/* The `}` matching the `{` at s[open], with the top-level commas in between. */
static size_t matching(const char *s, size_t n, size_t open, Vec *commas) {
    int depth = 0;
    for (size_t i = open; i < n;) {
        size_t q = skip_quoted(s, n, i);
        if (q != i) {
            i = q;
            continue;
        }
        if (s[i] == '{') depth++;
        else if (s[i] == '}' && --depth == 0) return i;
        else if (s[i] == ',' && depth == 1) vec_push(commas, (void *)i);
        i++;
    }
    return 0;
}

static int integer(const char *s, size_t n, long long *v, int *width) {
    size_t i = s[0] == '-' || s[0] == '+';
    if (i >= n || n > 18) return 0;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9') return 0;
    char text[24];
    memcpy(text, s, n);
    text[n] = 0;
    *v = strtoll(text, NULL, 10);
    *width = s[i] == '0' && n - i > 1 ? (int)n : 0; /* {01..10}: padded */
    return 1;
}

/* The items of a sequence body `x..y[..step]`, or 0 if it is none. */
static int sequence(const char *s, size_t n, Vec *items) {
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '.' && s[i + 1] == '.') {
            dots = s + i;
            break;
        }
    if (dots == NULL) return 0;
    const char *second = dots + 2, *end = s + n;
    const char *dots2 = NULL;
    for (const char *p = second; p + 1 < end; p++)
        if (p[0] == '.' && p[1] == '.') {
            dots2 = p;
            break;
        }
    long long step = 1, a, b;
    int wa, wb, ws;
    if (dots2 && !integer(dots2 + 2, (size_t)(end - dots2 - 2), &step, &ws)) return 0;
    size_t la = (size_t)(dots - s), lb = (size_t)((dots2 ? dots2 : end) - second);
    if (step < 0) step = -step;
    if (step == 0) step = 1;
    if (integer(s, la, &a, &wa) && integer(second, lb, &b, &wb)) {
        int width = wa > wb ? wa : wb;
        if ((b > a ? b - a : a - b) / step >= MAX_WORDS) return -1;
        for (long long v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step) {
            char text[32];
            snprintf(text, sizeof text, "%0*lld", width, v);
            vec_push(items, xstrdup(text));
        }
        return 1;
    }
    if (la == 1 && lb == 1 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
        ((second[0] >= 'a' && second[0] <= 'z') || (second[0] >= 'A' && second[0] <= 'Z'))) {
        for (int c = s[0]; s[0] <= second[0] ? c <= second[0] : c >= second[0];
             c += s[0] <= second[0] ? (int)step : -(int)step) {
            char text[2] = {(char)c, 0};
            vec_push(items, xstrdup(text));
        }
        return 1;
    }
    return 0;
}

static int expand(const char *s, size_t n, Vec *out) {
    for (size_t i = 0; i < n;) {
        size_t q = skip_quoted(s, n, i);
        if (q != i) {
            i = q;
            continue;
        }
        if (s[i] != '{') {
            i++;
            continue;
        }
        Vec commas = {0}, items = {0};
        size_t close = matching(s, n, i, &commas);
        int found = 0;
        if (close && commas.n) {
            size_t from = i + 1;
            for (int k = 0; k <= commas.n; k++) {
                size_t to = k < commas.n ? (size_t)commas.v[k] : close;
                vec_push(&items, xstrndup(s + from, to - from));
                from = to + 1;
            }
            found = 1;
        } else if (close) {
            found = sequence(s + i + 1, close - i - 1, &items);
            if (found < 0) return -1;
        }
        free(commas.v);
        if (!found) {
            i++;
            continue;
        }
        /* prefix + each item + suffix, each expanded again for the braces left */
        for (int k = 0; k < items.n; k++) {
            Buf b = {0};
            buf_putn(&b, s, i);
            buf_puts(&b, items.v[k]);
            buf_putn(&b, s + close + 1, n - close - 1);
            int r = expand(b.s, b.len, out);
            free(b.s);
            if (r < 0 || out->n > MAX_WORDS) return -1;
        }
        return 1;
    }
    vec_push(out, xstrndup(s, n));
    return 0;
}

/* The words `text` (a word's source, n bytes) stands for: 0 when it has no
   brace expansion (out untouched), 1 with them in out, -1 when too many. */
int brace_expand(const char *text, size_t n, Vec *out) {
    Vec words = {0};
    int r = expand(text, n, &words);
    if (r <= 0) {
        for (int i = 0; i < words.n; i++) free(words.v[i]);
        free(words.v);
        return r;
    }
    for (int i = 0; i < words.n; i++) vec_push(out, words.v[i]);
    free(words.v);
    return 1;
}
