/* cat: concatenate files to standard output, for agentvm guests (wasm32-wasi,
 * wasi-libc), as GNU cat does.
 *
 * Why not the package's: uutils cat, built for WASI, refuses every named input
 * that is not a regular file, a directory or a symlink ("unknown filetype"): its
 * checks for devices, fifos and sockets are compiled for Unix only. So
 * `cat /dev/null`, `cat /dev/stdin` and `cat <(cmd)` failed. This one reads
 * whatever opens. It replaces the package's `cat` in the /bin layer
 * (software/commands/build.py REPLACES, which software/layer.py honours).
 *
 * Options: -A -b -e -E -n -s -t -T -u (ignored) -v, their long spellings
 * (--show-all, --number-nonblank, --show-ends, --number, --squeeze-blank,
 * --show-tabs, --show-nonprinting), --help, --version, `--`; `-` is standard
 * input, as is no file at all. Line numbers, squeezing and the line state carry
 * on from one file to the next, as in GNU cat.
 * Exit status: 0, or 1 when any input could not be read (the others still are).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every path is resolved against the process's cwd inside the libc (chdir from
 * $PWD in main), so the runtime gives this program one preopen, "/", and
 * /tmp/x is the VM's /tmp/x even in a project with a tmp/ of its own
 * (wasm/plain_preopens.py). */
__attribute__((export_name("agentvm_absolute_paths"))) void agentvm_absolute_paths(void) {}

#define BUF_BYTES (64 * 1024)

static int number, number_nonblank, show_ends, show_tabs, show_nonprinting, squeeze;
static const char *prog = "cat";

/* Formatting state, kept across files. */
static long long line_no;
static int at_line_start = 1;
static int empty_lines; /* empty lines written in a row just now */

static unsigned char out[BUF_BYTES + 64];
static size_t out_len;
static int write_failed;

static void flush_out(void) {
    size_t off = 0;
    while (off < out_len && !write_failed) {
        ssize_t n = write(STDOUT_FILENO, out + off, out_len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
            write_failed = 1;
            break;
        }
        off += (size_t)n;
    }
    out_len = 0;
}

static void put(unsigned char c) {
    out[out_len++] = c;
    if (out_len >= BUF_BYTES) flush_out();
}

static void put_str(const char *s) {
    while (*s) put((unsigned char)*s++);
}

/* "%6lld\t" of the next line number, without printf (one per line of cat -n). */
static void put_number(void) {
    char digits[24];
    int len = 0;
    for (unsigned long long n = (unsigned long long)++line_no; n || !len; n /= 10) digits[len++] = (char)('0' + n % 10);
    for (int pad = len; pad < 6; pad++) put(' ');
    while (len) put((unsigned char)digits[--len]);
    put('\t');
}

static void put_span(const unsigned char *p, size_t n) {
    while (n) {
        size_t room = BUF_BYTES - out_len, take = n < room ? n : room;
        memcpy(out + out_len, p, take);
        out_len += take;
        p += take;
        n -= take;
        if (out_len >= BUF_BYTES) flush_out();
    }
}

/* A byte of a line in formatting mode (not the newline). */
static void format_char(unsigned char c) {
    if (c == '\t') {
        if (show_tabs) put_str("^I");
        else put(c);
    } else if (show_nonprinting && (c < 32 || c >= 127)) {
        if (c >= 128) {
            put_str("M-");
            c -= 128;
        }
        if (c < 32) {
            put('^');
            put((unsigned char)(c + 64));
        } else if (c == 127) {
            put_str("^?");
        } else {
            put(c);
        }
    } else {
        put(c);
    }
}

/* A buffer of input in formatting mode: newlines one by one (numbers, ends,
 * squeezing), the rest of a line in one copy unless its bytes are shown. */
static void format_buf(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (p[i] == '\n') {
            i++;
            if (at_line_start) { /* an empty line */
                if (squeeze && empty_lines) continue;
                empty_lines++;
                if (number) put_number();
            } else {
                empty_lines = 0;
            }
            if (show_ends) put('$');
            put('\n');
            at_line_start = 1;
            continue;
        }
        if (at_line_start) {
            if (number || number_nonblank) put_number();
            at_line_start = 0;
        }
        if (show_tabs || show_nonprinting) {
            format_char(p[i++]);
            continue;
        }
        const unsigned char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n;
        put_span(p + i, end - i);
        i = end;
    }
}

static int formatting(void) {
    return number || number_nonblank || show_ends || show_tabs || show_nonprinting || squeeze;
}

/* Whether reading `fd` (`st`) would read what this very cat writes (GNU: "input
 * file is output file"): the same regular file as stdout, not read to its end yet. */
static int is_output(int fd, const struct stat *st, const struct stat *out_st, int out_is_reg) {
    if (!out_is_reg || !S_ISREG(st->st_mode) || st->st_dev != out_st->st_dev || st->st_ino != out_st->st_ino) return 0;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return pos >= 0 && pos < st->st_size;
}

/* Write `n` bytes of `p` to stdout (after what is buffered). */
static void write_through(const unsigned char *p, size_t n) {
    if (out_len) flush_out();
    while (n && !write_failed) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
            write_failed = 1;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Copy one input; 0 on success, 1 after reporting an error. */
static int cat_fd(int fd, const char *name, const struct stat *out_st, int out_is_reg) {
    static unsigned char in[BUF_BYTES];
    struct stat st;
    int stated = fstat(fd, &st) == 0;
    if (stated && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: Is a directory\n", prog, name);
        return 1;
    }
    if (stated && is_output(fd, &st, out_st, out_is_reg)) {
        fprintf(stderr, "%s: %s: input file is output file\n", prog, name);
        return 1;
    }
    int fmt = formatting();
    for (;;) {
        ssize_t n = read(fd, in, sizeof in);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
            return 1;
        }
        if (n == 0) return 0;
        if (fmt) {
            format_buf(in, (size_t)n);
        } else {
            write_through(in, (size_t)n);
        }
        if (write_failed) return 1;
    }
}

static void usage(FILE *to) {
    fprintf(to,
            "Usage: %s [OPTION]... [FILE]...\n"
            "Concatenate FILE(s) to standard output.\n\n"
            "With no FILE, or when FILE is -, read standard input.\n\n"
            "  -A, --show-all           equivalent to -vET\n"
            "  -b, --number-nonblank    number nonempty output lines, overrides -n\n"
            "  -e                       equivalent to -vE\n"
            "  -E, --show-ends          display $ at end of each line\n"
            "  -n, --number             number all output lines\n"
            "  -s, --squeeze-blank      suppress repeated empty output lines\n"
            "  -t                       equivalent to -vT\n"
            "  -T, --show-tabs          display TAB characters as ^I\n"
            "  -u                       (ignored)\n"
            "  -v, --show-nonprinting   use ^ and M- notation, except for LFD and TAB\n"
            "      --help               display this help and exit\n"
            "      --version            output version information and exit\n",
            prog);
}

static int long_option(const char *arg) {
    static const struct { const char *name; int *flag; int also_v; int *also; } longs[] = {
        {"show-all", &show_ends, 1, &show_tabs},
        {"number-nonblank", &number_nonblank, 0, NULL},
        {"show-ends", &show_ends, 0, NULL},
        {"number", &number, 0, NULL},
        {"squeeze-blank", &squeeze, 0, NULL},
        {"show-tabs", &show_tabs, 0, NULL},
        {"show-nonprinting", &show_nonprinting, 0, NULL},
    };
    if (strcmp(arg, "help") == 0) {
        usage(stdout);
        exit(0);
    }
    if (strcmp(arg, "version") == 0) {
        printf("cat (agentvm) 1.0\n");
        exit(0);
    }
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        if (strcmp(arg, longs[i].name) == 0) {
            *longs[i].flag = 1;
            if (longs[i].also_v) show_nonprinting = 1;
            if (longs[i].also) *longs[i].also = 1;
            return 0;
        }
    }
    fprintf(stderr, "%s: unrecognized option '--%s'\nTry '%s --help' for more information.\n", prog, arg, prog);
    return -1;
}

static int short_options(const char *arg) {
    for (; *arg; arg++) {
        switch (*arg) {
        case 'A': show_nonprinting = show_ends = show_tabs = 1; break;
        case 'b': number_nonblank = 1; break;
        case 'e': show_nonprinting = show_ends = 1; break;
        case 'E': show_ends = 1; break;
        case 'n': number = 1; break;
        case 's': squeeze = 1; break;
        case 't': show_nonprinting = show_tabs = 1; break;
        case 'T': show_tabs = 1; break;
        case 'u': break;
        case 'v': show_nonprinting = 1; break;
        default:
            fprintf(stderr, "%s: invalid option -- '%c'\nTry '%s --help' for more information.\n", prog, *arg, prog);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    /* wasi-libc's own cwd starts at "/"; the kernel sets PWD to the real one */
    const char *pwd = getenv("PWD");
    if (pwd && *pwd)
        (void)chdir(pwd);
    char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, options_done = 0;
    if (!files) return 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            files[nfiles++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (arg[1] == '-') {
            if (long_option(arg + 2) != 0) return 1;
        } else if (short_options(arg + 1) != 0) {
            return 1;
        }
    }
    if (number_nonblank) number = 0; /* -b overrides -n */
    if (nfiles == 0) files[nfiles++] = "-";

    struct stat out_st;
    int out_is_reg = fstat(STDOUT_FILENO, &out_st) == 0 && S_ISREG(out_st.st_mode);
    int status = 0;
    for (int i = 0; i < nfiles && !write_failed; i++) {
        if (strcmp(files[i], "-") == 0) {
            status |= cat_fd(STDIN_FILENO, "-", &out_st, out_is_reg);
            continue;
        }
        int fd = open(files[i], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, files[i], strerror(errno));
            status = 1;
            continue;
        }
        status |= cat_fd(fd, files[i], &out_st, out_is_reg);
        close(fd);
    }
    flush_out();
    return status | write_failed;
}
