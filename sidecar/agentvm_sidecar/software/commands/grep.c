/* grep: a small POSIX-ish grep for agentvm guests (wasm32-wasi, wasi-libc).
 *
 * The pinned @agentos-software/grep package ships only egrep/fgrep shims that
 * spawn `grep -E` / `grep -F`; this file is that missing `grep`. It is compiled
 * at setup by build.py (zig cc -target wasm32-wasi) and placed in the /bin layer.
 *
 * Regex matching uses the libc's POSIX <regex.h> (musl's TRE in wasi-libc), which
 * also understands the GNU BRE extensions \| \+ \? \< \> \b \w \s. Lines are read
 * with getline, so they may be arbitrarily long. A NUL byte inside a line ends a
 * regex "segment": matches never span a NUL (GNU treats NULs as line ends in binary
 * files too). Matching is byte-oriented in the C locale.
 *
 * Options: -E -F -G -i -y -v -c -n -l -L -q -s -H -h -o -w -x -r -R -m NUM
 *          -A NUM -B NUM -C NUM -NUM -e PATTERN -f FILE -a (accepted) -I
 *          --include=GLOB --exclude=GLOB --exclude-dir=GLOB --color[=WHEN]
 *          long spellings of the above (--ignore-case, --count, ...), `--`.
 * Exit status: 0 a line was selected, 1 none, 2 an error (unless -q and a match).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MODE_BRE, MODE_ERE, MODE_FIXED };
enum { LIST_NONE, LIST_MATCHING, LIST_NONMATCHING };

struct pattern {
    char *text; /* for -F: the (lower-cased with -i) needle */
    size_t len;
    regex_t re;
};

static struct pattern *patterns;
static size_t npatterns, cap_patterns;
static int have_patterns; /* -e or -f given */

static int mode = MODE_BRE;
static int opt_i, opt_v, opt_c, opt_n, opt_q, opt_s, opt_o, opt_w, opt_x;
static int opt_recursive;   /* 0, 'r' or 'R' */
static int opt_list = LIST_NONE;
static int opt_with_filename = -1; /* -1: decide from the operands */
static int opt_binary_text;        /* -a: never print "Binary file" */
static int opt_skip_binary;        /* -I */
static long opt_max = -1;          /* -m */
static long opt_after, opt_before;

static char **includes, **excludes, **exclude_dirs;
static size_t nincludes, nexcludes, nexclude_dirs;

static int had_error;
static int any_selected;
static int printed_something; /* for the "--" context group separator */

static void usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("grep: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nUsage: grep [OPTION]... PATTERNS [FILE]...\n"
          "Try 'grep --help' for more information.\n", stderr);
    exit(2);
}

static void file_error(const char *name, int err) {
    had_error = 1;
    if (!opt_s)
        fprintf(stderr, "grep: %s: %s\n", name, strerror(err));
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("grep: memory exhausted\n", stderr);
        exit(2);
    }
    return q;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void push_glob(char ***list, size_t *n, const char *glob) {
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = (char *)glob;
}

/* One pattern string may hold several newline-separated patterns (as GNU grep). */
static void add_patterns(const char *s, size_t len) {
    const char *end = s + len;
    for (;;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        if (npatterns == cap_patterns) {
            cap_patterns = cap_patterns ? cap_patterns * 2 : 8;
            patterns = xrealloc(patterns, cap_patterns * sizeof *patterns);
        }
        patterns[npatterns].text = xstrndup(s, (size_t)(stop - s));
        patterns[npatterns].len = (size_t)(stop - s);
        npatterns++;
        if (!nl)
            break;
        s = nl + 1;
    }
}

static void add_pattern_file(const char *name) {
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f) {
        fprintf(stderr, "grep: %s: %s\n", name, strerror(errno));
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        add_patterns(line, (size_t)n);
    }
    free(line);
    if (f != stdin)
        fclose(f);
}

/* A BRE/ERE pattern without any special character matches exactly its own bytes,
 * so it is searched as a fixed string: musl's TRE runs per line in wasm and is
 * 20x slower than host grep on the plain words agents grep for most. A BRE '{'
 * is literal; in an ERE it may start an interval, so it keeps the regex path. */
static int is_literal(const char *text, size_t len) {
    const char *special = mode == MODE_ERE ? "\\.[]*^$+?(){}|" : "\\.[]*^$";
    for (size_t j = 0; j < len; j++)
        if (strchr(special, text[j]) || text[j] == 0)
            return 0;
    return 1;
}

static void compile_patterns(void) {
    if (mode != MODE_FIXED) {
        int all_literal = 1;
        for (size_t k = 0; k < npatterns && all_literal; k++)
            all_literal = is_literal(patterns[k].text, patterns[k].len);
        if (all_literal)
            mode = MODE_FIXED;
    }
    for (size_t k = 0; k < npatterns; k++) {
        struct pattern *p = &patterns[k];
        if (mode == MODE_FIXED) {
            if (opt_i)
                for (size_t j = 0; j < p->len; j++)
                    p->text[j] = (char)tolower((unsigned char)p->text[j]);
            continue;
        }
        int flags = (mode == MODE_ERE ? REG_EXTENDED : 0) | (opt_i ? REG_ICASE : 0);
        int rc = regcomp(&p->re, p->text, flags);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &p->re, msg, sizeof msg);
            fprintf(stderr, "grep: %s\n", msg);
            exit(2);
        }
    }
}

/* First occurrence of needle[0..m) in hay[0..n): memchr for the first byte, then
 * memcmp. Lines are short, so this beats memmem, whose two-way search builds
 * 2 KiB of tables on every call. */
static const char *find_fixed(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0)
        return hay;
    const char *end = hay + n;
    while ((size_t)(end - hay) >= m) {
        const char *c = memchr(hay, (unsigned char)needle[0], (size_t)(end - hay) - m + 1);
        if (!c)
            return NULL;
        if (memcmp(c + 1, needle + 1, m - 1) == 0)
            return c;
        hay = c + 1;
    }
    return NULL;
}

static int is_word(unsigned char c) { return isalnum(c) || c == '_'; }

/* Leftmost(-longest) raw match of p in line[from..len), len being a NUL byte.
 * `noteol`: line[len] is not the real end of the line. */
static int raw_match(struct pattern *p, char *line, size_t len, size_t from, int noteol,
                     size_t *so, size_t *eo) {
    size_t pos = from;
    while (pos <= len) {
        size_t segend = pos + strnlen(line + pos, len - pos);
        if (mode == MODE_FIXED) {
            if (!opt_i) {
                const char *hit = find_fixed(line + pos, segend - pos, p->text, p->len);
                if (hit) {
                    *so = (size_t)(hit - line);
                    *eo = *so + p->len;
                    return 1;
                }
            } else if (p->len <= segend - pos) {
                for (size_t i = pos; i + p->len <= segend; i++) {
                    size_t j = 0;
                    if (opt_i)
                        while (j < p->len && tolower((unsigned char)line[i + j]) == (unsigned char)p->text[j])
                            j++;
                    else
                        while (j < p->len && line[i + j] == p->text[j])
                            j++;
                    if (j == p->len) {
                        *so = i;
                        *eo = i + p->len;
                        return 1;
                    }
                }
            }
        } else {
            regmatch_t m[1];
            int flags = (pos > 0 ? REG_NOTBOL : 0) | (segend < len || noteol ? REG_NOTEOL : 0);
            if (regexec(&p->re, line + pos, 1, m, flags) == 0) {
                *so = pos + (size_t)m[0].rm_so;
                *eo = pos + (size_t)m[0].rm_eo;
                return 1;
            }
        }
        pos = segend + 1;
    }
    return 0;
}

static int word_ok(const char *line, size_t len, size_t so, size_t eo) {
    return (so == 0 || !is_word((unsigned char)line[so - 1])) &&
           (eo == len || !is_word((unsigned char)line[eo]));
}

/* First match of one pattern at or after `from`, honouring -x and -w. */
static int pattern_match(struct pattern *p, char *line, size_t len, size_t from, size_t *so,
                         size_t *eo) {
    size_t s, e;
    if (opt_x) {
        if (from > 0 || !raw_match(p, line, len, 0, 0, &s, &e) || s != 0 || e != len)
            return 0;
        *so = 0;
        *eo = len;
        return 1;
    }
    if (!opt_w)
        return raw_match(p, line, len, from, 0, so, eo);
    size_t pos = from;
    while (pos <= len && raw_match(p, line, len, pos, 0, &s, &e)) {
        if (word_ok(line, len, s, e)) {
            *so = s;
            *eo = e;
            return 1;
        }
        /* As GNU grep: try shorter matches at the same start before moving on. */
        size_t t = e;
        while (t > s) {
            t--;
            char saved = line[t];
            size_t s2, e2;
            line[t] = 0;
            int found = raw_match(p, line, t, s, 1, &s2, &e2) && s2 == s;
            line[t] = saved;
            if (!found)
                break;
            if (word_ok(line, len, s2, e2)) {
                *so = s2;
                *eo = e2;
                return 1;
            }
            t = e2;
        }
        pos = s + 1;
    }
    return 0;
}

/* Leftmost, then longest, match of any pattern at or after `from`. */
static int find_match(char *line, size_t len, size_t from, size_t *so, size_t *eo) {
    int found = 0;
    for (size_t k = 0; k < npatterns; k++) {
        size_t s, e;
        if (pattern_match(&patterns[k], line, len, from, &s, &e) &&
            (!found || s < *so || (s == *so && e > *eo))) {
            *so = s;
            *eo = e;
            found = 1;
        }
    }
    return found;
}

/* ---- output ------------------------------------------------------------- */

static int show_filename;

struct held_line { /* a -B context line */
    char *text;
    size_t len;
    long lineno;
};

static void print_prefix(const char *name, long lineno, char sep) {
    if (show_filename) {
        fputs(name, stdout);
        putchar(sep);
    }
    if (opt_n)
        printf("%ld%c", lineno, sep);
}

static void print_line(const char *name, long lineno, char sep, const char *line, size_t len) {
    print_prefix(name, lineno, sep);
    fwrite(line, 1, len, stdout);
    putchar('\n');
}

/* Search one open stream; returns the number of selected lines. */
static long grep_stream(FILE *f, const char *name) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, selected = 0, last_printed = -1, after_left = 0;
    int output_lines = !opt_q && opt_list == LIST_NONE && !opt_c;
    int use_context = output_lines && !opt_o && (opt_after > 0 || opt_before > 0);
    struct held_line *held = NULL;
    size_t nheld = 0, held_start = 0;
    if (use_context && opt_before > 0) {
        held = xrealloc(NULL, (size_t)opt_before * sizeof *held);
        memset(held, 0, (size_t)opt_before * sizeof *held);
    }

    while ((opt_max < 0 || selected < opt_max) && (got = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        size_t so = 0, eo = 0;
        int matched = find_match(line, len, 0, &so, &eo);
        if (matched == opt_v) {
            /* not selected: maybe a context line */
            if (!use_context)
                continue;
            if (after_left > 0) {
                print_line(name, lineno, '-', line, len);
                last_printed = lineno;
                after_left--;
            } else if (opt_before > 0) {
                struct held_line *h = &held[(held_start + nheld) % (size_t)opt_before];
                if (nheld == (size_t)opt_before) {
                    h = &held[held_start];
                    held_start = (held_start + 1) % (size_t)opt_before;
                    nheld--;
                }
                h->text = xrealloc(h->text, len + 1);
                memcpy(h->text, line, len);
                h->len = len;
                h->lineno = lineno;
                nheld++;
            }
            continue;
        }
        selected++;
        any_selected = 1;
        if (opt_q) {
            fflush(stdout);
            exit(0);
        }
        if (opt_list != LIST_NONE)
            break; /* one selected line decides -l / -L */
        if (!output_lines)
            continue;
        if (!opt_binary_text && memchr(line, 0, len)) {
            printf("Binary file %s matches\n", name);
            break;
        }
        if (use_context) {
            long first = nheld ? held[held_start].lineno : lineno;
            if (printed_something && last_printed != first - 1)
                fputs("--\n", stdout);
            for (size_t k = 0; k < nheld; k++) {
                struct held_line *h = &held[(held_start + k) % (size_t)opt_before];
                print_line(name, h->lineno, '-', h->text, h->len);
            }
            nheld = held_start = 0;
            after_left = opt_after;
        }
        printed_something = 1;
        last_printed = lineno;
        if (!opt_o) {
            print_line(name, lineno, ':', line, len);
        } else if (!opt_v) {
            size_t from = 0;
            while (from <= len && find_match(line, len, from, &so, &eo)) {
                if (eo == so) { /* empty matches are not printed */
                    from = so + 1;
                    continue;
                }
                print_line(name, lineno, ':', line + so, eo - so);
                from = eo;
            }
        }
    }
    /* With -m, GNU grep still prints the trailing context of the last match,
     * whether or not those lines would match. */
    if (use_context && opt_max >= 0 && selected >= opt_max)
        while (after_left-- > 0 && (got = getline(&line, &cap, f)) >= 0) {
            size_t len = (size_t)got;
            if (len > 0 && line[len - 1] == '\n')
                len--;
            print_line(name, ++lineno, '-', line, len);
        }
    if (ferror(f))
        file_error(name, errno ? errno : EIO);
    if (held) {
        for (long k = 0; k < opt_before; k++)
            free(held[k].text);
        free(held);
    }
    free(line);

    if (opt_c && !opt_q && opt_list == LIST_NONE) {
        if (show_filename)
            printf("%s:", name);
        printf("%ld\n", selected);
    }
    if (opt_list == LIST_MATCHING && selected > 0)
        printf("%s\n", name);
    if (opt_list == LIST_NONMATCHING && selected == 0)
        printf("%s\n", name);
    return selected;
}

static int is_binary_stream_skippable(FILE *f) {
    /* -I: peek at the start of the file for a NUL byte. */
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    int binary = memchr(buf, 0, n) != NULL;
    rewind(f);
    return binary;
}

/* wasi-libc's stdio buffers BUFSIZ (1 KiB): every KiB of input or output would be
 * a host call, and a host call costs microseconds where a host syscall costs
 * nanoseconds. GNU grep reads 96 KiB at a time; one 64 KiB buffer per stream does
 * the same here (files are searched one at a time, so one input buffer serves all). */
#define STREAM_BUFFER (64 * 1024)
static char input_buffer[STREAM_BUFFER], stdin_buffer[STREAM_BUFFER], output_buffer[STREAM_BUFFER];

/* Search the file at `path`, naming it `display` in output and errors. */
static void grep_file(const char *path, const char *display) {
    FILE *f = fopen(path, "r");
    if (!f) {
        file_error(display, errno);
        return;
    }
    setvbuf(f, input_buffer, _IOFBF, sizeof input_buffer);
    if (!opt_skip_binary || !is_binary_stream_skippable(f))
        grep_stream(f, display);
    fclose(f);
}

static int glob_listed(char **list, size_t n, const char *name) {
    for (size_t k = 0; k < n; k++)
        if (fnmatch(list[k], name, 0) == 0)
            return 1;
    return 0;
}

static int file_wanted(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (nincludes && !glob_listed(includes, nincludes, base))
        return 0;
    return !glob_listed(excludes, nexcludes, base);
}

struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
};

static void grep_tree(const char *path, const char *display, const struct ancestor *up);

static char *join_path(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = xrealloc(NULL, dl + slash + nl + 1);
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk a directory. `path` is what we open; `display` is how names are printed
 * ("" for the implicit "." of `grep -r PATTERN`, so names print as `sub/file`). */
static void grep_dir(const char *path, const char *display, const struct stat *st,
                     const struct ancestor *up) {
    for (const struct ancestor *a = up; a; a = a->up)
        if (a->dev == st->st_dev && a->ino == st->st_ino && st->st_ino != 0) {
            if (!opt_s)
                fprintf(stderr, "grep: %s: warning: recursive directory loop\n", path);
            return;
        }
    struct ancestor self = {st->st_dev, st->st_ino, up};
    DIR *d = opendir(path);
    if (!d) {
        file_error(path, errno);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrndup(de->d_name, strlen(de->d_name));
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names); /* deterministic output order */
    for (size_t k = 0; k < n; k++) {
        char *child = join_path(path, names[k]);
        char *child_display = *display ? join_path(display, names[k]) : xstrndup(names[k], strlen(names[k]));
        grep_tree(child, child_display, &self);
        free(child);
        free(child_display);
        free(names[k]);
    }
    free(names);
}

/* A path met during recursion (not a command-line operand). */
static void grep_tree(const char *path, const char *display, const struct ancestor *up) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        file_error(display, errno);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (opt_recursive == 'r')
            return; /* -r follows symlinks only on the command line (as GNU grep) */
        if (stat(path, &st) != 0) {
            file_error(display, errno);
            return;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!glob_listed(exclude_dirs, nexclude_dirs, base))
            grep_dir(path, display, &st, up);
        return;
    }
    if (!S_ISREG(st.st_mode))
        return; /* devices, fifos, sockets: skipped while recursing */
    if (file_wanted(path))
        grep_file(path, display);
}

static void grep_operand(const char *operand) {
    if (strcmp(operand, "-") == 0) {
        grep_stream(stdin, "(standard input)");
        return;
    }
    struct stat st;
    if (stat(operand, &st) != 0) {
        file_error(operand, errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (opt_recursive) {
            if (opt_with_filename < 0)
                show_filename = 1; /* `grep -r x dir` names files, `grep -r x file` not */
            grep_dir(operand, operand, &st, NULL);
        }
        else
            file_error(operand, EISDIR);
        return;
    }
    if (opt_recursive && !file_wanted(operand))
        return;
    grep_file(operand, operand);
}

/* ---- options ------------------------------------------------------------ */

static long parse_number(const char *opt, const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || errno || v < 0)
        usage_error("invalid %s argument: '%s'", opt, s);
    return v;
}

/* Short options taking an argument. */
static int takes_arg(char c) { return strchr("efmABCd", c) != NULL; }

static void short_option(char c, const char *arg) {
    switch (c) {
    case 'E': mode = MODE_ERE; break;
    case 'F': mode = MODE_FIXED; break;
    case 'G': mode = MODE_BRE; break;
    case 'i': case 'y': opt_i = 1; break;
    case 'v': opt_v = 1; break;
    case 'c': opt_c = 1; break;
    case 'n': opt_n = 1; break;
    case 'l': opt_list = LIST_MATCHING; break;
    case 'L': opt_list = LIST_NONMATCHING; break;
    case 'q': opt_q = 1; break;
    case 's': opt_s = 1; break;
    case 'H': opt_with_filename = 1; break;
    case 'h': opt_with_filename = 0; break;
    case 'o': opt_o = 1; break;
    case 'w': opt_w = 1; break;
    case 'x': opt_x = 1; break;
    case 'r': case 'R': opt_recursive = c; break;
    case 'a': opt_binary_text = 1; break;
    case 'I': opt_skip_binary = 1; break;
    case 'U': break; /* binary mode: meaningless here */
    case 'e': add_patterns(arg, strlen(arg)); have_patterns = 1; break;
    case 'f': add_pattern_file(arg); have_patterns = 1; break;
    case 'm': opt_max = parse_number("-m", arg); break;
    case 'A': opt_after = parse_number("-A", arg); break;
    case 'B': opt_before = parse_number("-B", arg); break;
    case 'C': opt_after = opt_before = parse_number("-C", arg); break;
    case 'd':
        if (strcmp(arg, "recurse") == 0)
            opt_recursive = opt_recursive ? opt_recursive : 'r';
        break;
    default: usage_error("invalid option -- '%c'", c);
    }
}

struct long_option {
    const char *name;
    char short_equivalent; /* 0: handled specially */
    int has_arg;           /* 0 none, 1 required, 2 optional (=WHEN) */
};

static const struct long_option long_options[] = {
    {"extended-regexp", 'E', 0}, {"fixed-strings", 'F', 0}, {"basic-regexp", 'G', 0},
    {"ignore-case", 'i', 0}, {"invert-match", 'v', 0}, {"count", 'c', 0},
    {"line-number", 'n', 0}, {"files-with-matches", 'l', 0},
    {"files-without-match", 'L', 0}, {"quiet", 'q', 0}, {"silent", 'q', 0},
    {"no-messages", 's', 0}, {"with-filename", 'H', 0}, {"no-filename", 'h', 0},
    {"only-matching", 'o', 0}, {"word-regexp", 'w', 0}, {"line-regexp", 'x', 0},
    {"recursive", 'r', 0}, {"dereference-recursive", 'R', 0}, {"text", 'a', 0},
    {"binary", 'U', 0}, {"regexp", 'e', 1}, {"file", 'f', 1}, {"max-count", 'm', 1},
    {"after-context", 'A', 1}, {"before-context", 'B', 1}, {"context", 'C', 1},
    {"directories", 'd', 1}, {"include", 0, 1}, {"exclude", 0, 1}, {"exclude-dir", 0, 1},
    {"color", 0, 2}, {"colour", 0, 2}, {"no-ignore-case", 0, 0},
    {NULL, 0, 0},
};

/* Returns how many argv entries were consumed. */
static int long_option(int argc, char **argv, int i) {
    const char *spec = argv[i] + 2;
    const char *eq = strchr(spec, '=');
    size_t namelen = eq ? (size_t)(eq - spec) : strlen(spec);
    const struct long_option *match = NULL;
    for (const struct long_option *o = long_options; o->name; o++) {
        if (strncmp(o->name, spec, namelen) != 0)
            continue;
        if (strlen(o->name) == namelen) {
            match = o;
            break;
        }
        if (match)
            usage_error("option '--%.*s' is ambiguous", (int)namelen, spec);
        match = o; /* unambiguous prefix, as getopt_long */
    }
    if (!match)
        usage_error("unrecognized option '--%.*s'", (int)namelen, spec);
    const char *arg = NULL;
    int used = 1;
    if (match->has_arg == 1) {
        if (eq) {
            arg = eq + 1;
        } else if (i + 1 < argc) {
            arg = argv[i + 1];
            used = 2;
        } else {
            usage_error("option '--%s' requires an argument", match->name);
        }
    } else if (match->has_arg == 0 && eq) {
        usage_error("option '--%s' doesn't allow an argument", match->name);
    }
    if (match->short_equivalent)
        short_option(match->short_equivalent, arg);
    else if (strcmp(match->name, "include") == 0)
        push_glob(&includes, &nincludes, arg);
    else if (strcmp(match->name, "exclude") == 0)
        push_glob(&excludes, &nexcludes, arg);
    else if (strcmp(match->name, "exclude-dir") == 0)
        push_glob(&exclude_dirs, &nexclude_dirs, arg);
    else if (strcmp(match->name, "no-ignore-case") == 0)
        opt_i = 0;
    /* --color[=WHEN]: accepted and ignored (output is never coloured). */
    return used;
}

int main(int argc, char **argv) {
    /* Fully buffered output into a pipe or file, as GNU grep; a terminal keeps
     * line buffering. stdin is read in big chunks too (`cmd | grep`). */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, output_buffer, _IOFBF, sizeof output_buffer);
    setvbuf(stdin, stdin_buffer, _IOFBF, sizeof stdin_buffer);

    /* wasi-libc keeps its own notion of the cwd, which starts at "/" whatever the
     * process's real cwd is, and resolves relative paths against it. The agentvm host
     * always sets PWD to the process cwd (see wasm/spawn.py), so adopt it here or
     * `cd dir && grep x file` would look for /file. */
    const char *pwd = getenv("PWD");
    if (pwd && *pwd)
        (void)chdir(pwd);

    char **operands = xrealloc(NULL, (size_t)argc * sizeof *operands);
    int noperands = 0;
    int i = 1;
    /* GNU-style permutation: options may follow operands until `--`. */
    while (i < argc) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                operands[noperands++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            operands[noperands++] = a;
            i++;
            continue;
        }
        if (a[1] == '-') {
            i += long_option(argc, argv, i);
            continue;
        }
        if (isdigit((unsigned char)a[1])) { /* -NUM means -C NUM */
            opt_after = opt_before = parse_number("context", a + 1);
           
            i++;
            continue;
        }
        i++;
        for (const char *p = a + 1; *p; p++) {
            if (takes_arg(*p)) {
                const char *arg = p[1] ? p + 1 : NULL;
                if (!arg) {
                    if (i >= argc)
                        usage_error("option requires an argument -- '%c'", *p);
                    arg = argv[i++];
                }
                short_option(*p, arg);
                break;
            }
            short_option(*p, NULL);
        }
    }

    int first_operand = 0;
    if (!have_patterns) {
        if (noperands == 0) {
            fputs("Usage: grep [OPTION]... PATTERNS [FILE]...\n"
                  "Try 'grep --help' for more information.\n", stderr);
            return 2;
        }
        add_patterns(operands[0], strlen(operands[0]));
        first_operand = 1;
    }
    compile_patterns();

    int nfiles = noperands - first_operand;
    show_filename = opt_with_filename >= 0 ? opt_with_filename : (nfiles > 1 || (opt_recursive && nfiles == 0));
    if (nfiles == 0) {
        if (opt_recursive) {
            struct stat st;
            if (stat(".", &st) != 0)
                file_error(".", errno);
            else
                grep_dir(".", "", &st, NULL);
        } else {
            grep_stream(stdin, "(standard input)");
        }
    } else {
        for (int k = first_operand; k < noperands; k++)
            grep_operand(operands[k]);
    }
    if (fflush(stdout) != 0 && !opt_q)
        had_error = 1;
    if (opt_q && any_selected)
        return 0;
    if (had_error)
        return 2;
    /* As GNU grep 3.8, -L too reports whether any line was selected. */
    return any_selected ? 0 : 1;
}
