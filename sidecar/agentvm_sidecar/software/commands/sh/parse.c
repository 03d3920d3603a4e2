/* sh: the parser. It reads the whole command line before anything runs, and
   calls fallback() (brush takes over) at the first thing outside the subset.
   Words and here-documents are read in words.c. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static int case_depth;     /* inside a case clause: `;;` ends a list */
static int function_depth; /* inside a function's body: return and local are ours */
static Vec function_names; /* of char*: every function the command defines */
static Vec pipelines;      /* of Pipeline: checked once every function is known */
static int loop_depth;     /* inside a for, while or until body */

static int at_terminator(void) {
    static const char *const ends[] = {"then", "else", "elif", "fi", "do", "done", "}", "esac", NULL};
    if (at(pos) == 0 || at(pos) == ')') return 1;
    if (case_depth && at(pos) == ';' && (at(pos + 1) == ';' || at(pos + 1) == '&')) return 1;
    for (int i = 0; ends[i]; i++)
        if (at_word(ends[i])) return 1;
    return 0;
}

static void expect_word(const char *word) {
    skip_blanks();
    if (!at_word(word)) fallback(); /* a syntax error: brush says it */
    pos += strlen(word);
}

/* ---- redirections ---- */

static void add_redir(Cmd *cmd, Redir r) {
    cmd->redirs = xrealloc(cmd->redirs, sizeof(Redir) * (size_t)(cmd->nredirs + 1));
    cmd->redirs[cmd->nredirs++] = r;
}

static void parse_heredoc(Cmd *cmd, int fd) {
    int strip_tabs = 0, quoted = 0;
    if (at(pos) == '<') fallback(); /* <<< here-string */
    if (at(pos) == '-') {
        strip_tabs = 1;
        pos++;
    }
    skip_blanks();
    if (is_meta(at(pos))) fallback();
    Word delimiter = parse_plain_word();
    for (int i = 0; i < delimiter.n; i++) {
        if (delimiter.parts[i].kind == P_QLIT) quoted = 1;
        else if (delimiter.parts[i].kind != P_LIT) fallback();
    }
    queue_heredoc(cmd, cmd->nredirs, static_text(&(Word){delimiter.parts, delimiter.n, 0}), strip_tabs, quoted);
    add_redir(cmd, (Redir){.fd = fd, .op = R_HEREDOC, .src = -1});
}

static int parse_redirection(Cmd *cmd) {
    int fd = -1;
    if (at(pos) >= '0' && at(pos) <= '9') {
        size_t end = pos;
        while (at(end) >= '0' && at(end) <= '9') end++;
        if (at(end) != '<' && at(end) != '>') return 0; /* a word of digits */
        if (end - pos > 1) fallback();                  /* fds above 9 */
        fd = at(pos) - '0';
        pos++;
    }
    int c = at(pos);
    if (c == '&' && at(pos + 1) == '>' && fd < 0) {
        /* &>file, &>>file: stdout and stderr */
        pos += 2;
        int append = at(pos) == '>';
        pos += append;
        skip_blanks();
        if (is_meta(at(pos))) fallback();
        Redir r = {.fd = 1, .op = append ? R_APPEND : R_OUT, .src = -1, .target = parse_plain_word()};
        if (r.target.dynamic) fallback();
        check_references(&r.target);
        add_redir(cmd, r);
        add_redir(cmd, (Redir){.fd = 2, .op = R_DUP, .src = 1});
        return 1;
    }
    if (c != '<' && c != '>') return 0;
    Redir r = {.fd = fd, .src = -1};
    pos++;
    if (c == '<' && at(pos) == '<') {
        pos++;
        parse_heredoc(cmd, fd < 0 ? 0 : fd);
        return 1;
    }
    if (c == '>' && at(pos) == '>') {
        r.op = R_APPEND;
        pos++;
    } else if (at(pos) == '&') {
        pos++;
        r.op = R_DUP;
    } else if (c == '>' && at(pos) == '|') {
        r.op = R_OUT; /* noclobber is never set here */
        pos++;
    } else if (at(pos) == '<' || at(pos) == '>' || at(pos) == '(') {
        fallback(); /* <>, process substitution */
    } else {
        r.op = c == '<' ? R_IN : R_OUT;
    }
    if (r.fd < 0) r.fd = c == '<' ? 0 : 1;
    skip_blanks();
    if (is_meta(at(pos))) fallback(); /* a syntax error: brush reports it */
    r.target = parse_plain_word();
    if (r.op == R_DUP) {
        char *t = static_text(&r.target);
        if (t == NULL) fallback();
        if (strcmp(t, "-") == 0) {
            r.op = R_CLOSE;
        } else if (t[0] >= '0' && t[0] <= '9' && t[1] == 0) {
            r.src = t[0] - '0';
            /* an fd above 2 must be one this command's own redirections opened */
            int opened = r.src <= 2;
            for (int i = 0; i < cmd->nredirs; i++)
                if (cmd->redirs[i].fd == r.src && cmd->redirs[i].op != R_CLOSE) opened = 1;
            if (!opened) fallback();
        } else {
            fallback(); /* >&file */
        }
    } else {
        if (r.target.dynamic) fallback(); /* a target that might split or glob */
        check_references(&r.target);
    }
    add_redir(cmd, r);
    return 1;
}

/* ---- commands ---- */

static Cmd *new_cmd(int kind) {
    Cmd *cmd = xmalloc(sizeof *cmd);
    *cmd = (Cmd){.kind = kind};
    return cmd;
}

static Cmd *parse_simple(void) {
    Cmd *cmd = new_cmd(C_SIMPLE);
    for (;;) {
        skip_blanks();
        int c = at(pos);
        if (c == '(' || (c == '&' && at(pos + 1) != '&' && at(pos + 1) != '>')) fallback(); /* f() {...}, cmd & */
        if (is_meta(c) && c != '<' && c != '>' && c != '&') break;
        if (c == '&' && at(pos + 1) == '&') break;
        if (parse_redirection(cmd)) continue;
        /* NAME= before the command: an assignment (each word is parsed once: a
           second parse would double at every nested $(...)) */
        size_t name = pos;
        while (cmd->words.n == 0 && is_name_char(at(name)) && !(name == pos && !is_name_start(at(name)))) name++;
        if (name > pos && (at(name) == '[' || (at(name) == '+' && at(name + 1) == '='))) fallback(); /* a[1]=, a+= */
        if (name > pos && at(name) == '=') {
            Word *w = xmalloc(sizeof *w);
            *w = parse_plain_word();
            check_assignment_word(w);
            vec_push(&cmd->assigns, w);
        } else {
            parse_words(&cmd->words);
        }
    }
    if (cmd->words.n == 0 && cmd->assigns.n == 0 && cmd->nredirs == 0) fallback(); /* syntax error */
    for (int k = 0; k < cmd->words.n; k++) check_references(cmd->words.v[k]);
    for (int k = 0; k < cmd->assigns.n; k++) {
        Word *w = cmd->assigns.v[k];
        check_references(w);
        /* `PATH=... cmd`: which PATH finds cmd is brush's business */
        if (cmd->words.n > 0 && assignment_name(w) == 4 && memcmp(w->parts[0].text, "PATH", 4) == 0) fallback();
    }
    if (cmd->words.n > 0) {
        char *name = static_text(cmd->words.v[0]);
        if (name == NULL) fallback(); /* a command name that comes from an expansion */
        if (strcmp(name, "command") == 0) {
            /* `command NAME ARGS` is NAME (there are no functions to skip) */
            char *next = cmd->words.n > 1 ? static_text(cmd->words.v[1]) : NULL;
            if (next == NULL || (next[0] == '-' && strcmp(next, "-v") != 0)) fallback();
            if (strcmp(next, "-v") == 0) {
                name = NULL;
                cmd->builtin = B_COMMAND_V;
            } else {
                memmove(cmd->words.v, cmd->words.v + 1, sizeof(void *) * (size_t)cmd->words.n);
                cmd->words.n--;
                name = next;
            }
        }
        if (name) cmd->builtin = builtin_number(name);
        if (cmd->builtin != B_NONE && cmd->assigns.n > 0) fallback();
        check_builtin(cmd);
        if ((cmd->builtin == B_LOCAL || cmd->builtin == B_RETURN) && (function_depth == 0 || subst_depth)) fallback();
        if (cmd->builtin == B_BREAK || cmd->builtin == B_CONTINUE) {
            /* brush ends the whole command when there are fewer loops to leave */
            char *n = cmd->words.n > 1 ? static_text(cmd->words.v[1]) : "1";
            if (loop_depth == 0 || subst_depth || atoi(n) > loop_depth) fallback();
        }
    }
    return cmd;
}

static List *parse_nonempty_list(void) {
    List *l = parse_list();
    if (l->items.n == 0) fallback(); /* `if then`: brush's syntax error */
    return l;
}

static Cmd *parse_if(void) {
    Cmd *cmd = new_cmd(C_IF);
    cmd->cond = parse_nonempty_list();
    expect_word("then");
    cmd->body = parse_nonempty_list();
    skip_blanks();
    if (at_word("elif")) {
        pos += 4;
        Cmd *elif = parse_if();
        List *l = xmalloc(sizeof *l);
        Pipeline *p = xmalloc(sizeof *p);
        *l = (List){0};
        *p = (Pipeline){0};
        vec_push(&p->cmds, elif);
        vec_push(&l->items, p);
        cmd->otherwise = l;
        return cmd; /* the elif's fi ends both */
    }
    if (at_word("else")) {
        pos += 4;
        cmd->otherwise = parse_nonempty_list();
    }
    expect_word("fi");
    return cmd;
}

static void parse_loop_body(Cmd *cmd) {
    expect_word("do");
    loop_depth++;
    cmd->body = parse_nonempty_list();
    loop_depth--;
    expect_word("done");
}

static Cmd *parse_for(void) {
    Cmd *cmd = new_cmd(C_FOR);
    skip_blanks();
    size_t start = pos;
    while (is_name_char(at(pos))) pos++;
    if (pos == start || !is_name_start(at(start)) || !is_meta(at(pos))) fallback(); /* for ((...)) */
    cmd->name = xstrndup(src + start, pos - start);
    if (is_brush_variable(cmd->name, pos - start)) fallback();
    skip_blanks();
    if (!at_word("in")) fallback(); /* for x; do: over "$@" */
    pos += 2;
    for (;;) {
        skip_blanks();
        if (at(pos) == ';' || at(pos) == '\n') break;
        if (is_meta(at(pos))) fallback();
        int before = cmd->words.n;
        parse_words(&cmd->words);
        for (int k = before; k < cmd->words.n; k++) check_references(cmd->words.v[k]);
    }
    if (at(pos) == ';') pos++;
    skip_newlines();
    parse_loop_body(cmd);
    return cmd;
}

static Cmd *parse_case(void) {
    Cmd *cmd = new_cmd(C_CASE);
    skip_blanks();
    if (is_meta(at(pos))) fallback();
    cmd->subject = xmalloc(sizeof(Word));
    *cmd->subject = parse_plain_word();
    check_references(cmd->subject);
    skip_newlines();
    expect_word("in");
    for (;;) {
        skip_newlines();
        if (at_word("esac")) break;
        if (at(pos) == '(') pos++;
        Clause *clause = xmalloc(sizeof *clause);
        *clause = (Clause){0};
        for (;;) {
            skip_blanks();
            if (is_meta(at(pos))) fallback();
            Word *pattern = xmalloc(sizeof *pattern);
            *pattern = parse_plain_word();
            check_references(pattern);
            vec_push(&clause->patterns, pattern);
            skip_blanks();
            if (at(pos) == ')') break;
            if (at(pos) != '|') fallback();
            pos++;
        }
        pos++;
        case_depth++;
        clause->body = parse_list();
        case_depth--;
        vec_push(&cmd->clauses, clause);
        skip_blanks();
        if (at(pos) == ';' && at(pos + 1) == ';' && at(pos + 2) != '&') {
            pos += 2;
            continue;
        }
        if (!at_word("esac")) fallback(); /* ;& and ;;& fall through: brush's */
    }
    pos += 4;
    return cmd;
}

static Cmd *parse_compound(void) {
    Cmd *cmd;
    if (at_word("[[")) {
        pos += 2;
        cmd = new_cmd(C_COND);
        cmd->test = parse_cond();
    } else if (at_word("case")) {
        pos += 4;
        cmd = parse_case();
    } else if (at_word("if")) {
        pos += 2;
        cmd = parse_if();
    } else if (at_word("while") || at_word("until")) {
        cmd = new_cmd(at(pos) == 'w' ? C_WHILE : C_UNTIL);
        pos += 5;
        cmd->cond = parse_nonempty_list();
        parse_loop_body(cmd);
    } else if (at_word("for")) {
        pos += 3;
        cmd = parse_for();
    } else if (at_word("{")) {
        pos++;
        cmd = new_cmd(C_GROUP);
        cmd->body = parse_nonempty_list();
        expect_word("}");
    } else if (at(pos) == '(') {
        pos++;
        if (at(pos) == '(') fallback(); /* ((arithmetic)) */
        cmd = new_cmd(C_SUBSHELL);
        cmd->body = parse_nonempty_list();
        skip_blanks();
        if (at(pos) != ')') fallback();
        pos++;
    } else {
        return NULL;
    }
    /* redirections of the whole compound command */
    for (;;) {
        skip_blanks();
        if (!parse_redirection(cmd)) break;
    }
    skip_blanks();
    if (!is_meta(at(pos)) || at(pos) == '(') fallback(); /* `fi x`: brush's syntax error */
    return cmd;
}

/* NAME() compound-command, or `function NAME [()] compound-command`; NULL if
   pos is at neither. */
static Cmd *parse_function(void) {
    size_t start = pos, end;
    int keyword = at_word("function");
    if (keyword) {
        pos += 8;
        skip_blanks();
        start = pos;
    }
    if (!is_name_start(at(pos))) {
        if (keyword) fallback();
        return NULL;
    }
    for (end = pos; is_name_char(at(end));) end++;
    size_t after = end;
    while (at(after) == ' ' || at(after) == '\t') after++;
    int parens = at(after) == '(';
    if (parens) {
        after++;
        while (at(after) == ' ' || at(after) == '\t') after++;
        if (at(after) != ')') fallback();
        after++;
    } else if (!keyword) {
        return NULL;
    }
    Cmd *cmd = new_cmd(C_FUNCTION);
    cmd->name = xstrndup(src + start, end - start);
    /* one named like a builtin would change what a name means before it runs */
    if (builtin_number_quiet(cmd->name) != B_NONE || strcmp(cmd->name, "command") == 0) fallback();
    vec_push(&function_names, cmd->name);
    pos = after;
    skip_newlines();
    function_depth++;
    int loops = loop_depth;
    loop_depth = 0; /* break in a function leaves the caller's loop: brush's */
    cmd->function = parse_compound();
    loop_depth = loops;
    function_depth--;
    if (cmd->function == NULL) fallback();
    return cmd;
}

static Cmd *parse_command(void) {
    skip_blanks();
    Cmd *cmd = parse_compound();
    if (cmd == NULL) cmd = parse_function();
    return cmd ? cmd : parse_simple();
}

static int is_function_call(const Cmd *cmd) {
    if (cmd->kind != C_SIMPLE || cmd->words.n == 0) return 0;
    char *name = static_text(cmd->words.v[0]);
    for (int i = 0; name && i < function_names.n; i++)
        if (strcmp(function_names.v[i], name) == 0) return 1;
    return 0;
}

/* Pipelines brush would run concurrently that this shell, one thread, could not. */
static void check_pipeline(const Pipeline *p) {
    int compound = -1;
    for (int i = 0; i < p->cmds.n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        if (cmd->kind == C_FUNCTION) fallback(); /* f() {...} | x: brush's */
        if (cmd->kind != C_SIMPLE || is_function_call(cmd)) { /* a function's body runs here too */
            if (compound >= 0) fallback();
            compound = i;
        } else if ((cmd->builtin != B_NONE && !PURE_BUILTIN(cmd->builtin)) ||
                   (cmd->words.n == 0 && cmd->assigns.n > 0)) {
            fallback(); /* cd, exit... in a pipeline act on a subshell of their own */
        }
    }
    if (compound < 0) return;
    /* a compound stage runs here while the others run as programs; captured, it
       would have to be the last, as nothing else could drain the output meanwhile */
    if (p->captured && compound != p->cmds.n - 1) fallback();
    for (int i = 0; i < p->cmds.n; i++) {
        const Cmd *cmd = p->cmds.v[i];
        /* a builtin just before it feeds it all its output at once (run.c) */
        if (i != compound && cmd->builtin != B_NONE && i != compound - 1) fallback();
        if (i != compound && cmd->words.n == 0) fallback();
    }
}

static Pipeline *parse_pipeline(int connector) {
    Pipeline *p = xmalloc(sizeof *p);
    *p = (Pipeline){.connector = connector};
    skip_blanks();
    if (at_word("!")) {
        p->bang = 1;
        pos++;
    }
    for (;;) {
        vec_push(&p->cmds, parse_command());
        skip_blanks();
        if (at(pos) == '|' && at(pos + 1) != '|') {
            pos++;
            if (at(pos) == '&') fallback(); /* |& */
            skip_newlines();
            continue;
        }
        break;
    }
    p->captured = subst_depth > 0;
    if (p->cmds.n > 1) vec_push(&pipelines, p);
    return p;
}

/* A list up to the end of input, `)` or a reserved word that ends it. */
List *parse_list(void) {
    static int depth;
    if (++depth > 100) fallback(); /* nesting this deep: brush's (this parser recurses on a 256 KiB stack) */
    List *l = xmalloc(sizeof *l);
    *l = (List){0};
    skip_newlines();
    int connector = J_SEQ;
    while (!at_terminator()) {
        vec_push(&l->items, parse_pipeline(connector));
        skip_blanks();
        if ((at(pos) == '&' && at(pos + 1) == '&') || (at(pos) == '|' && at(pos + 1) == '|')) {
            connector = at(pos) == '&' ? J_AND : J_OR;
            pos += 2;
            skip_newlines();
            if (at_terminator()) fallback();
            continue;
        }
        connector = J_SEQ;
        if (at(pos) == ';' && (at(pos + 1) == ';' || at(pos + 1) == '&')) {
            if (!case_depth) fallback(); /* ;; outside a case: brush's syntax error */
        } else if (at(pos) == ';') {
            pos++;
            skip_newlines();
        } else if (at(pos) == '\n') {
            skip_newlines();
        } else if (!at_terminator()) {
            fallback(); /* & and what else is no separator here */
        }
    }
    depth--;
    return l;
}

List *parse_script(const char *text) {
    src = text;
    pos = 0;
    List *l = parse_list();
    if (at(pos) != 0 || heredocs_pending()) fallback(); /* a stray `fi`, `)`...: brush's error */
    for (int i = 0; i < pipelines.n; i++) check_pipeline(pipelines.v[i]);
    return l;
}
