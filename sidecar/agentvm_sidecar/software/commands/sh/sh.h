/* sh: what the parts of agentvm's shell share (see main.c for what it is). */
#ifndef AGENTVM_SH_H
#define AGENTVM_SH_H

#include <stddef.h>
#include <sys/types.h>

#define NFD 10            /* fds 0-9: what redirections may name */
#define CLOSED (-1)
#define DISCARD (-2)      /* output into a builtin that never reads it */
#define CAPTURE (-3)      /* output into the innermost $(...) */
#define INHERIT (-4)      /* fds 3-9 no redirection named: whatever the shell has there */
#define RED_ERROR "\x1b[31merror:\x1b[39m "

/* ---- memory (util.c) ---- */
typedef struct {
    char *s;
    size_t len, cap;
} Buf;

typedef struct {
    void **v;
    int n, cap;
} Vec;

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);
void buf_putn(Buf *b, const char *s, size_t n);
void buf_putc(Buf *b, char c);
void buf_puts(Buf *b, const char *s);
char *buf_take(Buf *b);
void vec_push(Vec *a, void *p);
int lookup(const char *const *names, const char *name);
_Noreturn void fallback(void); /* main.c: exec brush with our argv */

/* ---- the parsed command (parse.c) ---- */
enum { P_LIT, P_QLIT, P_VAR, P_QVAR, P_TILDE, P_SUBST, P_QSUBST, P_PARAM, P_QPARAM, P_ARITH };

struct List;
struct Param;

typedef struct {
    int kind;
    char *text;           /* the literal, or the variable's name */
    struct List *body;    /* P_SUBST, P_QSUBST: the command of $(...) */
    struct Param *param;  /* P_PARAM, P_QPARAM: ${NAME<op>word}; P_ARITH: $((arg)) */
} Part;

typedef struct {
    Part *parts;
    int n;
    int dynamic; /* an unquoted expansion or glob character: may split or glob */
} Word;

/* ${#NAME}, ${NAME-w} ${NAME:-w} ${NAME=w} ${NAME:=w} ${NAME+w} ${NAME:+w},
   ${NAME#p} ${NAME##p} ${NAME%p} ${NAME%%p} */
enum { OP_NONE, OP_LENGTH, OP_DEFAULT, OP_ASSIGN, OP_ALTERNATE, OP_PREFIX, OP_LONG_PREFIX, OP_SUFFIX, OP_LONG_SUFFIX };

typedef struct Param {
    char *name;
    int op, colon; /* colon: an empty value counts as unset (`:-`, `:=`, `:+`) */
    Word arg;
} Param;

enum { R_IN, R_OUT, R_APPEND, R_DUP, R_CLOSE, R_HEREDOC };

typedef struct {
    int fd, op, src;
    Word target; /* the file, or a here-document's body */
} Redir;

enum { C_SIMPLE, C_IF, C_FOR, C_WHILE, C_UNTIL, C_GROUP, C_SUBSHELL, C_CASE, C_FUNCTION, C_COND };
typedef struct Cond Cond; /* cond.c: a [[ ]] expression */
enum { B_NONE, B_ECHO, B_TRUE, B_FALSE, B_COLON, B_TEST, B_BRACKET, B_PWD, B_PRINTF, B_CD, B_EXIT, B_EXPORT,
       B_UNSET, B_BREAK, B_CONTINUE, B_READ, B_SET, B_SHIFT, B_COMMAND_V, B_LOCAL, B_RETURN };
#define PURE_BUILTIN(b) ((b) >= B_ECHO && (b) <= B_PRINTF) /* output only: fine in a pipeline */

typedef struct Cmd {
    int kind;
    Vec assigns, words; /* of Word; C_FOR: words are those after `in` */
    Redir *redirs;
    int nredirs;
    int builtin;
    char *name;                             /* C_FOR: the variable; C_FUNCTION: the function */
    struct Cmd *function;                   /* C_FUNCTION: its body, a compound command */
    Cond *test;                             /* C_COND */
    struct List *cond, *body, *otherwise;   /* if/while/until: cond; the body; if: else (an elif is an if) */
    Word *subject;                          /* C_CASE: the word, and its clauses (of Clause) */
    Vec clauses;
} Cmd;

typedef struct {
    Vec patterns; /* of Word */
    struct List *body;
} Clause;

enum { J_SEQ, J_AND, J_OR };

typedef struct {
    Vec cmds;      /* of Cmd */
    int connector; /* how it joins the one before */
    int bang;      /* `!` */
    int captured;  /* inside $(...) */
} Pipeline;

typedef struct List {
    Vec items; /* of Pipeline */
} List;

List *parse_script(const char *src);
int brace_expand(const char *text, size_t n, Vec *out);
size_t assignment_name(const Word *w);
char *static_text(const Word *w);

/* ---- variables and parameters (vars.c) ---- */
typedef struct {
    char *name, *value;
    int exported;
} Var;

extern Vec vars; /* of Var */
extern char **positional;
extern int npositional;
extern int last_status;
extern int errexit, pipefail, nounset; /* set -e, set -o pipefail, set -u */

Var *var_find(const char *name, size_t len);
void var_set(const char *name, const char *value, int export);
void var_unset(const char *name);
const char *param_value(const char *name);
int is_brush_variable(const char *name, size_t len);
void vars_from_environ(void);
Vec vars_copy(void);
char **child_env(const Vec *assigns);

/* ---- expansion (expand.c) ---- */
void expand_word(const Word *w, Vec *out);
char *pattern_of(const Word *w);
char *expand_single(const Word *w, size_t skip_name);
char **expand_argv(const Vec *words);
extern int subst_status; /* of the last $(...) expanded, -1 if none */

/* ---- arithmetic (arith.c) ---- */
long long arith_eval(const char *text, const char **error);
int arith_supported(const char *text);

/* ---- running (run.c) ---- */
typedef struct {
    int fd[NFD];
} Io;

enum { U_NONE, U_EXIT, U_BREAK, U_CONTINUE, U_RETURN };
extern int unwinding; /* set by exit, break, continue until their boundary */
extern int unwind_levels;

int run_list(const List *l, const Io *io);
char *run_capture(const List *body);
enum { E_BARE, E_PLAIN, E_RED }; /* brush's ways of starting a message: "", "error: ", red "error:" */
void sh_error(const Io *io, int style, const char *fmt, ...);
void expansion_failed(const char *what, const char *detail);
int io_write(const Io *io, int fd, const char *s, size_t n);

/* ---- builtins (builtins.c) ---- */
int run_builtin(const struct Cmd *cmd, char **argv, const Io *io);
int run_printf(char **args, const Io *io);
extern const char *const unary_tests[], *const binary_tests[]; /* test's operators, [[ ]]'s too */
int test_unary(const char *op, const char *arg);
int test_binary(const char *a, const char *op, const char *b);
int compare_integers(long long x, const char *op, long long y);
Cond *parse_cond(void);
int eval_cond(const Cond *c);
int echo_escapes(Buf *out, const char *s);
void put_utf8(Buf *b, unsigned long cp);
int hex_value(int c);
int check_printf_format(const char *format);
int run_read(char **args, const Io *io);
int builtin_number(const char *name);
int builtin_number_quiet(const char *name);
void enter_function(char **argv);
void leave_function(void);
void check_builtin(const struct Cmd *cmd);

#endif
