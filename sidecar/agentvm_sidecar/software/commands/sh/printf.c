/* sh: the printf builtin, as bash's: a format with backslash escapes and
   %[flags][width][.precision] conversions d i o u x X c s b f F e E g G and %%,
   reused while arguments remain; a missing argument is 0 or "". %q, %n, %(...)T,
   -v and options send the command to brush (check_printf_format). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh.h"

static const char *const conversions = "diouxXcsbfFeEgG%";

/* A format's escape at s (past the backslash): appended to out; returns the
   characters it took. */
static size_t format_escape(Buf *out, const char *s) {
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''??e\033E\033";
    const char *hit = s[0] ? strchr(simple, s[0]) : NULL;
    if (hit && (hit - simple) % 2 == 0) {
        buf_putc(out, hit[1]);
        return 1;
    }
    if (s[0] >= '0' && s[0] <= '7') {
        int v = 0;
        size_t k = 0;
        while (k < 3 && s[k] >= '0' && s[k] <= '7') v = v * 8 + (s[k++] - '0');
        buf_putc(out, (char)v);
        return k;
    }
    if ((s[0] == 'x' || s[0] == 'u' || s[0] == 'U') && hex_value((unsigned char)s[1]) >= 0) {
        unsigned long v = 0;
        size_t k = 1, max = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : 8;
        while (k <= max && hex_value((unsigned char)s[k]) >= 0) v = v * 16 + (unsigned long)hex_value((unsigned char)s[k++]);
        if (s[0] == 'x') buf_putc(out, (char)v);
        else put_utf8(out, v);
        return k;
    }
    buf_putc(out, '\\');
    return 0;
}

/* Whether every conversion of a literal format is one we do. */
int check_printf_format(const char *format) {
    for (const char *p = format; *p; p++) {
        if (*p != '%') continue;
        p++;
        p += strspn(p, "-+ #0");
        p += strspn(p, "0123456789*");
        if (*p == '.') p += 1 + strspn(p + 1, "0123456789*");
        if (*p == 0 || !strchr(conversions, *p)) return 0;
    }
    return 1;
}

/* An argument as a number, as bash reads it: an integer (0x.., 0..), or 'c
   for a character's code; what does not parse is 0. */
static long long integer_arg(const char *s) {
    if (s[0] == '\'' || s[0] == '"') return (unsigned char)s[1];
    return strtoll(s, NULL, 0);
}

int run_printf(char **args, const Io *io) {
    const char *format = args[0];
    char **arg = args + 1;
    Buf out = {0};
    int stop = 0;
    do {
        char **first = arg;
        for (const char *p = format; *p && !stop; p++) {
            if (*p == '\\') {
                p += format_escape(&out, p + 1);
                continue;
            }
            if (*p != '%') {
                buf_putc(&out, *p);
                continue;
            }
            /* one conversion: its spec rebuilt for snprintf */
            char spec[64];
            size_t n = 0;
            spec[n++] = '%';
            const char *q = p + 1;
            while (*q && strchr("-+ #0", *q) && n < 20) spec[n++] = *q++;
            for (int part = 0; part < 2; part++) {
                if (part == 1) {
                    if (*q != '.') break;
                    spec[n++] = *q++;
                }
                if (*q == '*') {
                    n += (size_t)snprintf(spec + n, sizeof spec - n, "%d", *arg ? (int)integer_arg(*arg++) : 0);
                    q++;
                } else {
                    while (*q >= '0' && *q <= '9' && n < 40) spec[n++] = *q++;
                }
            }
            char conv = *q;
            p = q;
            if (conv == '%') {
                buf_putc(&out, '%');
                continue;
            }
            const char *value = *arg ? *arg++ : NULL;
            char text[4096];
            Buf escaped = {0};
            int len;
            if (strchr("diouxX", conv)) {
                spec[n++] = 'l';
                spec[n++] = 'l';
                spec[n++] = conv;
                spec[n] = 0;
                len = snprintf(text, sizeof text, spec, value ? integer_arg(value) : 0LL);
            } else if (strchr("fFeEgG", conv)) {
                spec[n++] = conv;
                spec[n] = 0;
                len = snprintf(text, sizeof text, spec, value ? strtod(value, NULL) : 0.0);
            } else {
                if (conv == 'b') stop = value && echo_escapes(&escaped, value);
                else if (conv == 'c') buf_putn(&escaped, value ? value : "", value && value[0] ? 1 : 0);
                else buf_puts(&escaped, value ? value : "");
                spec[n++] = 's';
                spec[n] = 0;
                len = snprintf(NULL, 0, spec, escaped.s ? escaped.s : "");
                char *big = xmalloc((size_t)len + 1);
                snprintf(big, (size_t)len + 1, spec, escaped.s ? escaped.s : "");
                buf_putn(&out, big, (size_t)len);
                free(big);
                free(escaped.s);
                continue;
            }
            buf_putn(&out, text, len < 0 ? 0 : (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
        }
        if (arg == first) break; /* the format takes no argument: once */
    } while (*arg && !stop);
    int status = out.len ? io_write(io, 1, out.s, out.len) : 0;
    free(out.s);
    return status;
}
