/* sh: running the parsed command.

   One thread runs everything that is not a program: builtins, compound commands,
   $(...). Each runs against an Io, the fds 0-9 it sees as shell fds (or CLOSED,
   DISCARD, CAPTURE); redirections make a new Io and never move the shell's own
   fds, so nothing has to be put back. Programs get their Io through posix_spawn
   file actions. $(...) and ( ) save and restore the variables and the cwd, which
   is what a subshell's fork would have kept apart. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sh.h"

int unwinding = U_NONE;
static int errexit_ignored; /* inside a condition or a && || list but its last: set -e does not act */
int unwind_levels;
int loop_depth_now;

static Vec captures;      /* of Buf: the innermost $(...) last */
static Vec functions;     /* of Cmd (C_FUNCTION): those defined so far */
static Vec internal_fds;  /* pipe ends no program may inherit */
static const Io *expansion_io; /* where a $(...) of the command being expanded reads and complains */

/* ---- output ---- */

static void forget_fd(int fd) {
    for (int i = 0; i < internal_fds.n; i++)
        if ((int)(size_t)internal_fds.v[i] == fd) {
            internal_fds.v[i] = internal_fds.v[--internal_fds.n];
            internal_fds.v[internal_fds.n] = NULL;
            return;
        }
}

static void close_internal(int fd) {
    if (fd < 0) return;
    forget_fd(fd);
    close(fd);
}

static int make_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    vec_push(&internal_fds, (void *)(size_t)fds[0]);
    vec_push(&internal_fds, (void *)(size_t)fds[1]);
    return 0;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A builtin's output to its fd `fd`. A closed pipe ends it with 141, as SIGPIPE
   would end the subshell bash runs a pipeline's builtin in (this shell blocks
   SIGPIPE around those; elsewhere the kernel ends the shell, as it would bash). */
int io_write(const Io *io, int fd, const char *s, size_t n) {
    int target = io->fd[fd] == INHERIT ? fd : io->fd[fd];
    if (target == DISCARD) return 0;
    if (target == CAPTURE) {
        buf_putn(captures.v[captures.n - 1], s, n);
        return 0;
    }
    if (target >= 0 && write_all(target, s, n) == 0) return 0;
    if (target >= 0 && errno == EPIPE) return 128 + SIGPIPE;
    int err = target < 0 ? EBADF : errno;
    if (fd != 2) sh_error(io, E_PLAIN, "write error: %s\n", strerror(err));
    return 1;
}

void sh_error(const Io *io, int style, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    Buf b = {0};
    buf_puts(&b, style == E_RED ? RED_ERROR : style == E_PLAIN ? "error: " : "");
    buf_putn(&b, text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    io_write(io, 2, b.s, b.len);
    free(b.s);
}

/* An expansion that cannot be done ($((1/0))): said as brush says it; the
   command does not run and the shell, or the subshell it is in, ends with 1. */
void expansion_failed(const char *what, const char *detail) {
    if (unwinding == U_EXIT) return;
    sh_error(expansion_io, E_RED, "%s: %s\n", what, detail);
    unwinding = U_EXIT;
}

/* ---- subshells ---- */

typedef struct {
    Vec vars, functions;
    char *cwd;
    char **positional;
    int npositional, errexit, pipefail, nounset;
} Saved;

/* The cwd, on the heap: a subshell's frame stays small on sh's 256 KiB stack. */
static char *current_dir(void) {
    char *cwd = getcwd(NULL, 0);
    return cwd ? cwd : xstrdup("/");
}

static Saved save_state(void) {
    Vec defined = {0};
    for (int i = 0; i < functions.n; i++) vec_push(&defined, functions.v[i]);
    return (Saved){vars_copy(), defined, current_dir(), positional, npositional, errexit, pipefail, nounset};
}

static void restore_state(Saved *s) {
    vars = s->vars;
    free(functions.v);
    functions = s->functions;
    positional = s->positional;
    npositional = s->npositional;
    errexit = s->errexit;
    pipefail = s->pipefail;
    nounset = s->nounset;
    char *cwd = current_dir();
    if (strcmp(cwd, s->cwd) != 0) chdir(s->cwd);
    free(cwd);
    free(s->cwd);
}

/* A list run as a subshell: exit, break and continue end there. */
static int run_subshell(const List *l, const Io *io) {
    Saved saved = save_state();
    int status = run_list(l, io);
    unwinding = U_NONE;
    restore_state(&saved);
    return status;
}

char *run_capture(const List *body) {
    Buf *out = xmalloc(sizeof *out);
    *out = (Buf){0};
    vec_push(&captures, out);
    Io io = *expansion_io;
    io.fd[1] = CAPTURE;
    const Io *outer = expansion_io;
    /* what $? says from here on in the command being expanded, as in bash; set -e
       does not reach inside (bash's inherit_errexit is off) */
    int saved_errexit = errexit;
    errexit = 0;
    subst_status = last_status = run_subshell(body, &io);
    errexit = saved_errexit;
    expansion_io = outer;
    captures.n--;
    char *s = buf_take(out);
    free(out);
    return s;
}

/* ---- redirections ---- */

/* A readable fd with a here-document's text: a pipe filled up front when it
   fits one (4 KiB always does), else an unlinked file in $TMPDIR or /tmp. */
static int heredoc_fd(const char *text, const Io *io) {
    size_t n = strlen(text);
    if (n <= 4096) {
        int fds[2];
        if (make_pipe(fds) == 0) {
            write_all(fds[1], text, n);
            close_internal(fds[1]);
            return fds[0];
        }
    } else {
        const char *dir = var_find("TMPDIR", 6) ? param_value("TMPDIR") : "/tmp";
        for (int attempt = 0; attempt < 100; attempt++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/.sh-heredoc-%d-%d", dir, getpid(), attempt);
            int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST) continue;
            if (fd < 0) break;
            unlink(path);
            if (write_all(fd, text, n) == 0 && lseek(fd, 0, SEEK_SET) == 0) return fd;
            close(fd);
            break;
        }
    }
    sh_error(io, E_PLAIN, "failed to create here-document: %s\n", strerror(errno));
    return -1;
}

static int open_flags(int op) {
    return op == R_IN ? O_RDONLY : op == R_OUT ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_CREAT | O_APPEND;
}

/* `out` = `in` after the command's redirections; the fds they opened go into
   `opened`. Returns 1 when one failed (said on `in`'s stderr, as brush does). */
static int apply_redirs(const Cmd *cmd, const Io *in, Io *out, Vec *opened) {
    *out = *in;
    for (int i = 0; i < cmd->nredirs; i++) {
        const Redir *r = &cmd->redirs[i];
        int fd;
        if (r->op == R_CLOSE) {
            out->fd[r->fd] = CLOSED;
            continue;
        }
        if (r->op == R_DUP) {
            out->fd[r->fd] = out->fd[r->src];
            continue;
        }
        char *text = expand_single(&r->target, 0);
        if (r->op == R_HEREDOC) {
            fd = heredoc_fd(text, in);
        } else {
            fd = open(text, open_flags(r->op) | O_CLOEXEC, 0666);
            if (fd < 0) sh_error(in, E_PLAIN, "failed to redirect to %s: %s (os error %d)\n", text, strerror(errno), errno);
        }
        free(text);
        if (fd < 0) return 1;
        vec_push(opened, (void *)(size_t)fd);
        out->fd[r->fd] = fd;
    }
    return 0;
}

static void close_opened(Vec *opened) {
    for (int i = 0; i < opened->n; i++) close_internal((int)(size_t)opened->v[i]);
    free(opened->v);
    *opened = (Vec){0};
}

/* ---- programs ---- */

/* Programs start with the signal mask this shell started with, not the one it
   may hold (SIGPIPE blocked while a pipeline's builtins run here); asked of the
   kernel once, where posix_spawn would ask at every start. */
static const posix_spawnattr_t *spawn_attr(void) {
    static posix_spawnattr_t attr;
    static int ready;
    if (!ready) {
        sigset_t mask;
        sigprocmask(SIG_BLOCK, NULL, &mask);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &mask);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        ready = 1;
    }
    return &attr;
}

/* Start a program with fds 0-9 as `io` has them. A CAPTURE stdout becomes a
   pipe whose read end goes to *capture. Returns the pid, or -1 with the status
   brush gives (127 not found, 126 otherwise) in *status. */
static pid_t spawn_program(char **argv, const Io *io, const Vec *assigns, int *capture, int *status) {
    Io child = *io;
    int cap[2] = {-1, -1};
    for (int i = 0; i < NFD; i++) {
        if (child.fd[i] == CAPTURE && cap[1] < 0 && make_pipe(cap) != 0) {
            sh_error(io, E_PLAIN, "failed to create pipe: %s\n", strerror(errno));
            *status = 1;
            return -1;
        }
        if (child.fd[i] == CAPTURE) child.fd[i] = cap[1]; /* `$(cmd 2>&1)` too */
        else if (child.fd[i] == DISCARD) child.fd[i] = CLOSED;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* a source that is itself the target of an earlier action is read from a copy */
    int copies[NFD];
    for (int i = 0; i < NFD; i++) {
        int s = child.fd[i];
        copies[i] = -1;
        if (s >= 0 && s < i && child.fd[s] != s && child.fd[s] != INHERIT) {
            copies[i] = fcntl(s, F_DUPFD_CLOEXEC, NFD);
            s = copies[i];
        }
        if (s == CLOSED) posix_spawn_file_actions_addclose(&fa, i);
        else if (s != INHERIT && (s != i || i > 2)) posix_spawn_file_actions_adddup2(&fa, s, i); /* onto itself: clears CLOEXEC */
    }
    for (int k = 0; k < internal_fds.n; k++) {
        int f = (int)(size_t)internal_fds.v[k];
        if (f >= NFD || child.fd[f] == INHERIT) posix_spawn_file_actions_addclose(&fa, f);
    }
    char **env = child_env(assigns);
    pid_t pid = -1;
    const posix_spawnattr_t *attr = spawn_attr();
    /* the kernel runs a text file without #! with /bin/sh itself, and refuses
       (ENOEXEC) one with a NUL in its first 256 bytes, which is brush's answer */
    int err = posix_spawnp(&pid, argv[0], &fa, attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < NFD; i++)
        if (copies[i] >= 0) close(copies[i]);
    for (char **e = env; *e; e++) free(*e);
    free(env);
    close_internal(cap[1]);
    if (err) {
        /* said on the command's own fd 2, after its redirections */
        if (err == ENOENT) sh_error(io, E_RED, "command not found: %s\n", argv[0]);
        else sh_error(io, E_RED, "failed to execute command '%s': %s (os error %d)\n", argv[0], strerror(err), err);
        *status = err == ENOENT ? 127 : 126;
        close_internal(cap[0]);
        return -1;
    }
    if (capture) *capture = cap[0];
    return pid;
}

static int wait_status(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Read fd into the innermost capture until its end, then close it. */
static void drain(int fd) {
    static char chunk[65536]; /* not on the stack: sh's is 256 KiB */
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) buf_putn(captures.v[captures.n - 1], chunk, (size_t)n);
        else if (n == 0 || errno != EINTR) break;
    }
    close_internal(fd);
}

/* ---- commands ---- */

static Vec expanded_assigns(const Cmd *cmd) {
    Vec out = {0};
    for (int k = 0; k < cmd->assigns.n; k++) {
        const Word *w = cmd->assigns.v[k];
        size_t n = assignment_name(w);
        Var *v = xmalloc(sizeof *v);
        *v = (Var){xstrndup(w->parts[0].text, n), expand_single(w, n), 1};
        vec_push(&out, v);
    }
    return out;
}

static void free_assigns(Vec *assigns) {
    for (int k = 0; k < assigns->n; k++) {
        Var *v = assigns->v[k];
        free(v->name);
        free(v->value);
        free(v);
    }
    free(assigns->v);
}

static void free_argv(char **argv) {
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

/* A command of assignments and redirections only: its status is that of its
   last $(...), else 0 (1 when a redirection failed). */
static int run_bare(const Cmd *cmd, const Io *io) {
    subst_status = -1;
    Vec assigns = expanded_assigns(cmd);
    Io rio;
    Vec opened = {0};
    int failed = apply_redirs(cmd, io, &rio, &opened) || unwinding == U_EXIT;
    close_opened(&opened);
    for (int k = 0; !failed && k < assigns.n; k++) {
        Var *v = assigns.v[k];
        var_set(v->name, v->value, 0);
    }
    int status = failed ? 1 : subst_status >= 0 ? subst_status : 0;
    free_assigns(&assigns);
    return status;
}

static const Cmd *defined_function(const char *name) {
    for (int i = 0; i < functions.n; i++) {
        const Cmd *def = functions.v[i];
        if (strcmp(def->name, name) == 0) return def;
    }
    return NULL;
}

static void define_function(const Cmd *def) {
    for (int i = 0; i < functions.n; i++)
        if (strcmp(((const Cmd *)functions.v[i])->name, def->name) == 0) {
            functions.v[i] = (void *)def;
            return;
        }
    vec_push(&functions, (void *)def);
}

static int run_compound(const Cmd *cmd, const Io *io);

/* A function's body with $1... from argv; return ends it there. */
static int call_function(const Cmd *def, char **argv, const Io *io) {
    static int depth;
    if (depth >= 100) {
        sh_error(io, E_RED, "%s: maximum function nesting level exceeded (100)\n", def->name);
        return 1;
    }
    depth++;
    enter_function(argv);
    int status = run_compound(def->function, io);
    if (unwinding == U_RETURN) unwinding = U_NONE;
    leave_function();
    depth--;
    return status;
}

/* A simple command's program, started with its assignments and redirections:
   its pid, or -1 with *status set. */
static pid_t start_program(const Cmd *cmd, char **argv, const Io *io, int *capture, int *status) {
    Vec assigns = expanded_assigns(cmd);
    Io rio;
    Vec opened = {0};
    pid_t pid = -1;
    if (apply_redirs(cmd, io, &rio, &opened) || unwinding == U_EXIT) *status = 1;
    else pid = spawn_program(argv, &rio, &assigns, capture, status);
    close_opened(&opened); /* the program has its copies; ours would keep its pipes open */
    free_assigns(&assigns);
    return pid;
}

/* A simple command that runs here: a function `def` calls, or a builtin, after
   its redirections. */
static int run_here(const Cmd *cmd, const Cmd *def, char **argv, const Io *io) {
    Io rio;
    Vec opened = {0};
    int status = apply_redirs(cmd, io, &rio, &opened) || unwinding == U_EXIT ? 1
                 : def                                                     ? call_function(def, argv, &rio)
                                                                           : run_builtin(cmd, argv, &rio);
    close_opened(&opened);
    return status;
}

static int run_simple(const Cmd *cmd, const Io *io) {
    expansion_io = io;
    if (cmd->words.n == 0) return run_bare(cmd, io);
    /* export expands its own NAME=value words, once */
    char **argv = cmd->builtin == B_EXPORT ? NULL : expand_argv(&cmd->words);
    if (unwinding == U_EXIT) {
        if (argv) free_argv(argv);
        return 1;
    }
    if (argv && argv[0] == NULL) {
        free(argv);
        return run_bare(cmd, io);
    }
    int status;
    const Cmd *def = cmd->builtin == B_NONE ? defined_function(argv[0]) : NULL;
    if (def || cmd->builtin != B_NONE) {
        status = run_here(cmd, def, argv, io);
    } else {
        int capture = -1;
        pid_t pid = start_program(cmd, argv, io, &capture, &status);
        if (capture >= 0) drain(capture);
        if (pid >= 0) status = wait_status(pid);
    }
    if (argv) free_argv(argv);
    return status;
}

/* After a loop's body or condition: whether the loop ends here. */
static int loop_ends(void) {
    if (unwinding == U_BREAK || unwinding == U_CONTINUE) {
        int kind = unwinding;
        if (--unwind_levels > 0) return 1; /* an outer loop's turn */
        unwinding = U_NONE;
        return kind == U_BREAK;
    }
    return unwinding != U_NONE;
}

static int run_loop(const Cmd *cmd, const Io *io) {
    int status = 0;
    loop_depth_now++;
    if (cmd->kind == C_FOR) {
        expansion_io = io;
        char **items = expand_argv(&cmd->words);
        for (char **item = items; *item && unwinding == U_NONE; item++) {
            var_set(cmd->name, *item, 0);
            status = run_list(cmd->body, io);
            if (loop_ends()) break;
        }
        free_argv(items);
    } else {
        for (;;) {
            errexit_ignored++;
            int c = run_list(cmd->cond, io);
            errexit_ignored--;
            if (unwinding != U_NONE) {
                if (loop_ends()) break;
                continue;
            }
            if ((c == 0) != (cmd->kind == C_WHILE)) break;
            status = run_list(cmd->body, io);
            if (loop_ends()) break;
        }
    }
    loop_depth_now--;
    return status;
}

/* The first clause with a pattern the word matches runs; none: status 0. */
static int run_case(const Cmd *cmd, const Io *io) {
    expansion_io = io;
    char *subject = expand_single(cmd->subject, 0);
    int status = 0;
    for (int i = 0; i < cmd->clauses.n && unwinding == U_NONE; i++) {
        const Clause *clause = cmd->clauses.v[i];
        int hit = 0;
        for (int k = 0; k < clause->patterns.n && !hit && unwinding == U_NONE; k++) {
            char *pattern = pattern_of(clause->patterns.v[k]);
            hit = fnmatch(pattern, subject, 0) == 0;
            free(pattern);
        }
        if (hit) {
            status = run_list(clause->body, io);
            break;
        }
    }
    free(subject);
    return unwinding == U_EXIT && status == 0 ? 1 : status;
}

static int run_compound(const Cmd *cmd, const Io *io) {
    Io rio;
    Vec opened = {0};
    expansion_io = io;
    if (apply_redirs(cmd, io, &rio, &opened)) {
        close_opened(&opened);
        return 1;
    }
    int status = 0;
    switch (cmd->kind) {
    case C_IF: {
        errexit_ignored++;
        int c = run_list(cmd->cond, &rio);
        errexit_ignored--;
        if (unwinding != U_NONE) status = c;
        else if (c == 0) status = run_list(cmd->body, &rio);
        else if (cmd->otherwise) status = run_list(cmd->otherwise, &rio);
        break;
    }
    case C_FOR:
    case C_WHILE:
    case C_UNTIL:
        status = run_loop(cmd, &rio);
        break;
    case C_GROUP:
        status = run_list(cmd->body, &rio);
        break;
    case C_SUBSHELL:
        status = run_subshell(cmd->body, &rio);
        break;
    case C_CASE:
        status = run_case(cmd, &rio);
        break;
    case C_FUNCTION:
        define_function(cmd);
        break;
    case C_COND:
        expansion_io = &rio;
        status = eval_cond(cmd->test) ? 0 : 1;
        if (unwinding == U_EXIT) status = 1;
        break;
    }
    close_opened(&opened);
    return status;
}

static int run_command(const Cmd *cmd, const Io *io) {
    return cmd->kind == C_SIMPLE ? run_simple(cmd, io) : run_compound(cmd, io);
}

/* ---- pipelines ---- */

typedef struct {
    int fd;
    Buf data;
    size_t done;
} Pending;

/* Write each pending output into its pipe while reading `capture` into the
   innermost $(...), with poll(), so that neither waits on the other. */
static void pump(Vec *pending, int capture) {
    for (int i = 0; i < pending->n; i++) fcntl(((Pending *)pending->v[i])->fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        struct pollfd fds[NFD + 1];
        int n = 0;
        for (int i = 0; i < pending->n; i++) {
            Pending *p = pending->v[i];
            if (p->fd >= 0) fds[n++] = (struct pollfd){p->fd, POLLOUT, 0};
        }
        if (capture >= 0) fds[n++] = (struct pollfd){capture, POLLIN, 0};
        if (n == 0) return;
        if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR) return;
        for (int i = 0; i < pending->n; i++) {
            Pending *p = pending->v[i];
            if (p->fd < 0) continue;
            ssize_t k = write(p->fd, p->data.s + p->done, p->data.len - p->done);
            if (k > 0) p->done += (size_t)k;
            if (p->done == p->data.len || (k < 0 && errno != EAGAIN && errno != EINTR)) {
                close_internal(p->fd);
                p->fd = -1;
            }
        }
        if (capture >= 0) {
            static char chunk[65536]; /* not on the stack: sh's is 256 KiB */
            ssize_t k = read(capture, chunk, sizeof chunk);
            if (k > 0) buf_putn(captures.v[captures.n - 1], chunk, (size_t)k);
            else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_internal(capture);
                capture = -1;
            }
        }
    }
}

/* A pipeline of several commands. Programs start first; then the one compound
   command (parse.c allows one, among programs and a builtin just before it)
   runs here as a subshell, its pipe ends going straight to the programs, the
   builtin's output as a here-document; other builtins run here, their output
   written after they ran (into a builtin: dropped, as builtins do not read).
   SIGPIPE is blocked meanwhile, so a closed pipe ends a stage here, not the shell. */
static int run_stages(const Pipeline *p, const Io *io) {
    int n = p->cmds.n;
    int (*pipes)[2] = xmalloc(sizeof(int[2]) * (size_t)n);
    for (int i = 0; i + 1 < n; i++) {
        if (make_pipe(pipes[i]) != 0) {
            sh_error(io, E_PLAIN, "failed to create pipe: %s\n", strerror(errno));
            for (int k = 0; k < i; k++) close_internal(pipes[k][0]), close_internal(pipes[k][1]);
            free(pipes);
            return 1;
        }
    }
    Io *stage = xmalloc(sizeof(Io) * (size_t)n);
    pid_t *pids = xmalloc(sizeof(pid_t) * (size_t)n);
    int *statuses = xmalloc(sizeof(int) * (size_t)n), *here = xmalloc(sizeof(int) * (size_t)n);
    char ***argvs = xmalloc(sizeof(char **) * (size_t)n);
    const Cmd **defs = xmalloc(sizeof(Cmd *) * (size_t)n); /* the function a stage calls */
    int capture = -1, any_here = 0;
    for (int i = 0; i < n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        stage[i] = *io;
        if (i > 0) stage[i].fd[0] = pipes[i - 1][0];
        if (i + 1 < n) stage[i].fd[1] = pipes[i][1];
        pids[i] = -1;
        statuses[i] = 0;
        argvs[i] = NULL;
        defs[i] = NULL;
        here[i] = cmd->kind != C_SIMPLE || cmd->builtin != B_NONE || cmd->words.n == 0;
        if (cmd->kind == C_SIMPLE) {
            expansion_io = io;
            argvs[i] = expand_argv(&cmd->words);
            defs[i] = argvs[i][0] && cmd->builtin == B_NONE ? defined_function(argvs[i][0]) : NULL;
            here[i] |= argvs[i][0] == NULL || defs[i] != NULL;
        }
        any_here |= here[i];
    }
    for (int i = 0; i < n; i++)
        if (!here[i])
            pids[i] = start_program(p->cmds.v[i], argvs[i], &stage[i], i + 1 == n ? &capture : NULL, &statuses[i]);
    /* this shell keeps only the pipe ends its own stages use */
    for (int i = 0; i + 1 < n; i++) {
        if (!here[i + 1]) close_internal(pipes[i][0]);
        if (!here[i]) close_internal(pipes[i][1]);
    }
    sigset_t block, old;
    if (any_here) {
        spawn_attr(); /* the mask programs get: read before SIGPIPE is blocked */
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        sigprocmask(SIG_BLOCK, &block, &old);
    }
    Vec pending = {0};
    Buf *feed = NULL;
    for (int i = 0; i < n; i++) {
        if (!here[i]) continue;
        const Cmd *cmd = p->cmds.v[i];
        Io sio = stage[i];
        const Cmd *next = i + 1 < n ? p->cmds.v[i + 1] : NULL;
        if (next && here[i + 1]) sio.fd[1] = DISCARD;
        if (feed) { /* a builtin's whole output, read as from a here-document */
            sio.fd[0] = heredoc_fd(feed->s ? feed->s : "", io);
            free(feed->s);
            free(feed);
            feed = NULL;
        }
        Pending *out = NULL;
        /* a compound stage, or a function's: runs here, as a subshell */
        int next_is_subshell = next && (next->kind != C_SIMPLE || defs[i + 1]);
        if (next && cmd->kind == C_SIMPLE && !defs[i] && (!here[i + 1] || next_is_subshell)) {
            /* buffered, then written while the rest of the pipeline runs */
            out = xmalloc(sizeof *out);
            *out = (Pending){.fd = pipes[i][1]};
            vec_push(&captures, &out->data);
            sio.fd[1] = CAPTURE;
        }
        if (cmd->kind != C_SIMPLE || defs[i]) {
            Saved saved = save_state();
            statuses[i] = defs[i] ? run_here(cmd, defs[i], argvs[i], &sio) : run_compound(cmd, &sio);
            unwinding = U_NONE;
            restore_state(&saved);
        } else {
            statuses[i] = argvs[i][0] == NULL ? run_bare(cmd, &sio) : run_here(cmd, NULL, argvs[i], &sio);
        }
        if (sio.fd[0] != stage[i].fd[0]) close_internal(sio.fd[0]);
        if (out && here[i + 1]) { /* into the compound stage next: its stdin */
            captures.n--;
            feed = xmalloc(sizeof *feed);
            *feed = out->data;
            free(out);
            close_internal(pipes[i][1]);
        } else if (out) {
            captures.n--;
            vec_push(&pending, out);
        } else if (i + 1 < n) {
            close_internal(pipes[i][1]);
        }
        if (i > 0) close_internal(pipes[i - 1][0]);
    }
    pump(&pending, capture);
    if (any_here) sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < pending.n; i++) {
        Pending *out = pending.v[i];
        free(out->data.s);
        free(out);
    }
    free(pending.v);
    for (int i = 0; i < n; i++) {
        if (pids[i] >= 0) statuses[i] = wait_status(pids[i]);
        if (argvs[i]) free_argv(argvs[i]);
    }
    int status = statuses[n - 1];
    for (int i = n - 1; pipefail && i >= 0 && status == 0; i--) status = statuses[i]; /* the last that failed */
    free(pipes);
    free(stage);
    free(pids);
    free(statuses);
    free(here);
    free(argvs);
    free(defs);
    return status;
}

static int run_pipeline(const Pipeline *p, const Io *io) {
    int status = p->cmds.n == 1 ? run_command(p->cmds.v[0], io) : run_stages(p, io);
    return p->bang && unwinding == U_NONE ? !status : status;
}

/* set -e: a failing pipeline ends the shell, unless it is a condition, a && or
   || operand but the last, or negated with ! (inside those, nothing ends it). */
int run_list(const List *l, const Io *io) {
    for (int i = 0; i < l->items.n && unwinding == U_NONE; i++) {
        const Pipeline *p = l->items.v[i];
        if (p->connector == J_AND && last_status != 0) continue;
        if (p->connector == J_OR && last_status == 0) continue;
        int operand = i + 1 < l->items.n && ((const Pipeline *)l->items.v[i + 1])->connector != J_SEQ;
        errexit_ignored += operand || p->bang;
        last_status = run_pipeline(p, io);
        errexit_ignored -= operand || p->bang;
        if (errexit && !errexit_ignored && !operand && !p->bang && last_status != 0 && unwinding == U_NONE)
            unwinding = U_EXIT;
    }
    return last_status;
}
