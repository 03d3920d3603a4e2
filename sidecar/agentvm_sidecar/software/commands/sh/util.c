/* sh: growable strings and arrays. The shell lives for one command line, so
   nothing it allocates for the parse is ever freed; running frees what loops
   would otherwise pile up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh.h"

static _Noreturn void out_of_memory(void) {
    fputs("sh: out of memory\n", stderr);
    exit(2);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (p == NULL) out_of_memory();
    return p;
}

char *xstrndup(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

void buf_putn(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void buf_putc(Buf *b, char c) { buf_putn(b, &c, 1); }
void buf_puts(Buf *b, const char *s) { buf_putn(b, s, strlen(s)); }

char *buf_take(Buf *b) {
    char *s = b->s ? b->s : xstrdup("");
    *b = (Buf){0};
    return s;
}

void vec_push(Vec *a, void *p) {
    if (a->n + 2 > a->cap) {
        a->cap = (a->n + 2) * 2;
        a->v = xrealloc(a->v, sizeof(void *) * (size_t)a->cap);
    }
    a->v[a->n++] = p;
    a->v[a->n] = NULL;
}

int lookup(const char *const *names, const char *name) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}
