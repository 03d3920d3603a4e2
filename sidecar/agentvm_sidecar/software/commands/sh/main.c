/* sh: `sh -c COMMAND` for agentvm guests, fast for the command lines agents and
 * clients run most, and brush (the package's shell, /bin/bash) for everything else.
 *
 * Why: brush's own start in wasm costs ~0.4 ms before it runs anything, most of a
 * warm `sh -c 'echo hi'`. This shell parses the whole command first; if every
 * part of it is in the subset below, it runs it itself, with brush's observable
 * behaviour (output, exit status, error messages, the environment children get).
 * Otherwise, before anything has run, it execs brush with the same argv, so a
 * command outside the subset behaves exactly as it did before this shell existed.
 *
 * The subset: lists (`;`, newlines, `&&`, `||`), pipelines (`!` too), simple
 * commands, `if`/`elif`/`else`, `case`, `for NAME in ...`, `while`, `until`,
 * `{ }`, `( )`, `[[ ]]` (cond.c), functions (`f() compound`, `function f`)
 * with local and return;
 * redirections (`<`, `>`, `>|`, `>>`, `&>`, `&>>`, `N>&M`, `N<&M`,
 * `N>&-`, fds 0-9) and here-documents (`<<`, `<<-`, quoted or not); words of
 * plain text, '...', "..." and backslash escapes; `$NAME`, `${NAME}`, `$?`,
 * `$#`, `$0`-`$9`, `${NAME:-w}` and the other -, =, +, #, ##, %, %% forms,
 * `${#NAME}`, `$(...)` and `...`, `$((...))` without assignments; brace expansion
 * (`a{b,c}`, `{1..3}`) of command words and for lists; field splitting with the
 * default IFS; `~` and `~/...`; pathname expansion (`*`, `?`, `[...]`); `#`
 * comments; `$@`, `$*`; programs, and the builtins echo, printf, read, true,
 * false, `:`, test, `[`, pwd, cd, exit, export, unset, set (-e -u -o pipefail
 * and --), shift, command (and -v), break and continue.
 * Anything else goes to brush: `${x:?}`, `${x:1:2}`, `${x/a/b}`,
 * `&`, `[[ =~ ]]`, `set -x`, every other builtin, a function named like a builtin, options to sh
 * itself, a script file or standard input, a variable brush defines itself
 * (RANDOM, IFS, OLDPWD...), a startup file named by BASH_ENV or ENV, and
 * pipelines this one thread could not run as brush does (parse.c,
 * check_pipeline).
 *
 * As brush: children get the environment sorted by name, SHLVL one higher and PWD.
 * As bash, where brush differs: argv[0] is the word as typed (brush passes the
 * path it found); `*` followed by more pattern matches only what exists; `cmd
 * 2>&1` and `cmd >&2` reach the shell's own stdout and stderr; `[ -r/-w/-x FILE ]`
 * ask access(); `read` without -r takes backslashes as escapes and answers 1 at
 * the end of input; a quoted "${U:-a  b}" keeps its blanks; `{,x}` is one word
 * and `{01..10}` keeps its zeros; set -e, set -u and set -o pipefail take
 * effect (brush ignores them); `shift` past the end answers 1; `...` drops the
 * backslash before $, ` and \ (brush keeps it). It replaces the package's `sh` in the /bin layer
 * (software/commands/build.py REPLACES); `bash` stays brush.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh.h"

extern char **environ;

static char **sh_argv;

/* Every path this shell opens is made absolute against its own cwd first
   (wasi-libc's chdir, started from $PWD), so the runtime gives it one preopen,
   "/", and `echo x > /tmp/log` means /tmp/log even in a project that has a
   `tmp/` of its own (wasm/plain_preopens.py). */
__attribute__((export_name("agentvm_absolute_paths"))) void agentvm_absolute_paths(void) {}

/* Run brush in place of this shell, with the same argv and environment. Only
   called before anything has run, so brush sees the command as if first. */
_Noreturn void fallback(void) {
    execv("/bin/bash", sh_argv);
    fprintf(stderr, "sh: cannot run /bin/bash: %s\n", strerror(errno));
    exit(127);
}

int main(int argc, char **argv) {
    sh_argv = argv;
    if (argc < 3 || strcmp(argv[1], "-c") != 0) fallback();
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "BASH_FUNC_", 10) == 0) fallback();
    if (getenv("BASH_ENV") || getenv("ENV") || getenv("IFS")) fallback();
    vars_from_environ();
    List *script = parse_script(argv[2]);
    positional = argv + 3;
    npositional = argc - 3;
    if (npositional == 0) {
        positional = argv;
        npositional = 1;
    }
    Io io = {{0, 1, 2, INHERIT, INHERIT, INHERIT, INHERIT, INHERIT, INHERIT, INHERIT}};
    return run_list(script, &io);
}
