/* sh: the read builtin: `read [-r] NAME...` takes one line of standard input,
   a byte at a time (a pipe cannot be read ahead and given back), splits it at
   blanks and assigns the fields, the last name taking the rest. Without -r a
   backslash quotes the next character and ends a line that goes on. Status 1 at
   the end of input, after assigning what there was. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh.h"

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

int run_read(char **args, const Io *io) {
    int raw = args[0] && strcmp(args[0], "-r") == 0;
    char **names = args + raw;
    int fd = io->fd[0] == INHERIT ? 0 : io->fd[0];
    /* the line, with each character's quoting: an escaped blank does not split */
    Buf line = {0}, quoted = {0};
    int status = 1;
    for (;;) {
        char c;
        ssize_t n = fd < 0 ? -1 : read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (c == '\n') {
            status = 0;
            break;
        }
        if (c == '\\' && !raw) {
            n = read(fd, &c, 1);
            if (n <= 0) break;
            if (c == '\n') continue; /* a continued line */
            buf_putc(&line, c);
            buf_putc(&quoted, 1);
            continue;
        }
        buf_putc(&line, c);
        buf_putc(&quoted, 0);
    }
    size_t len = line.len, i = 0;
    for (int k = 0; names[k]; k++) {
        while (i < len && is_blank(line.s[i]) && !quoted.s[i]) i++;
        size_t start = i;
        if (names[k + 1]) {
            while (i < len && !(is_blank(line.s[i]) && !quoted.s[i])) i++;
        } else {
            i = len;
            while (i > start && is_blank(line.s[i - 1]) && !quoted.s[i - 1]) i--;
        }
        char *value = xstrndup(line.s ? line.s + start : "", i - start);
        var_set(names[k], value, 0);
        free(value);
    }
    free(line.s);
    free(quoted.s);
    return status;
}
