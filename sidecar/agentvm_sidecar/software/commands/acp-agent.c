/* acp-agent: agentvm's reference ACP agent (wasm32-wasi), the test and demo agent.
 *
 * It speaks the Agent Client Protocol (schema v1) on stdin/stdout, one JSON-RPC
 * message per line, and does what a coding agent does, deterministically, so the
 * sidecar's ACP client can be tested end to end without a model:
 *   - initialize: protocol version 1; loadSession, session resume and close.
 *     With ACP_AGENT_REQUIRE_AUTH=1 in its env it advertises one auth method and
 *     answers session/new with "auth required" (-32000) until authenticated.
 *   - session/new, session/load (replays one message), session/resume,
 *     session/set_mode (sends current_mode_update), session/set_config_option,
 *     session/close.
 *   - session/prompt: a thought chunk, a plan, then the first word of the prompt
 *     text picks what it does:
 *       write PATH TEXT  tool call; asks permission; fs/write_text_file if allowed
 *       read PATH        tool call; fs/read_text_file; the text as a message
 *       run COMMAND      tool call; terminal/create (sh -c COMMAND), wait, output
 *       demo PATH        write PATH (with permission), read it back, run `wc -c PATH`
 *       sleep            waits for session/cancel, then stops with `cancelled`
 *       anything else    echoes the text
 *     then message chunks and stopReason end_turn.
 *   - argv[1] --misbehave=MODE makes it break the protocol on the first prompt, for
 *     the sidecar's robustness tests: garbage (a non-JSON line), unknown-method
 *     (a request the client does not know, then a normal turn), stray-response (a
 *     response to an id never used, then a normal turn), exit (exits with status 3),
 *     flood (writes without ever ending the line), silent-init (never answers
 *     initialize), ignore-cancel (sleep never stops).
 *
 * The JSON reader is deliberately tiny: it finds a member by key in an object
 * (skipping nested values correctly) and decodes strings. Messages the agent does
 * not understand get a JSON-RPC "method not found" error, as the spec says.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- a tiny JSON reader -------------------------------------------------- */

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Skip one JSON value starting at p; returns the character after it (or NULL). */
static const char *skip_value(const char *p) {
    p = ws(p);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1]) p++;
        return *p ? p + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = skip_value(p);
                if (!p) return NULL;
                p--;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
        }
        return NULL;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
    return p;
}

/* The value of member `key` in the object at p, or NULL. */
static const char *member(const char *p, const char *key) {
    if (!p) return NULL;
    p = ws(p);
    if (*p != '{') return NULL;
    p = ws(p + 1);
    size_t klen = strlen(key);
    while (*p == '"') {
        const char *k = p + 1;
        const char *end = skip_value(p);
        if (!end) return NULL;
        int match = (size_t)(end - 1 - k) == klen && strncmp(k, key, klen) == 0;
        p = ws(end);
        if (*p != ':') return NULL;
        p = ws(p + 1);
        if (match) return p;
        p = skip_value(p);
        if (!p) return NULL;
        p = ws(p);
        if (*p == ',') p = ws(p + 1);
    }
    return NULL;
}

/* The i-th element of the array at p, or NULL. */
static const char *element(const char *p, int i) {
    if (!p) return NULL;
    p = ws(p);
    if (*p != '[') return NULL;
    p = ws(p + 1);
    for (int n = 0; *p && *p != ']'; n++) {
        if (n == i) return p;
        p = skip_value(p);
        if (!p) return NULL;
        p = ws(p);
        if (*p == ',') p = ws(p + 1);
    }
    return NULL;
}

/* Decode the JSON string at p into a new buffer (NULL if p is not a string). */
static char *string_at(const char *p) {
    if (!p || *(p = ws(p)) != '"') return NULL;
    const char *end = skip_value(p);
    if (!end) return NULL;
    char *out = malloc((size_t)(end - p) + 1), *o = out;
    for (p++; p < end - 1; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned v = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
            if (v < 0x80) *o++ = (char)v;
            else if (v < 0x800) { *o++ = (char)(0xC0 | v >> 6); *o++ = (char)(0x80 | (v & 0x3F)); }
            else { *o++ = (char)(0xE0 | v >> 12); *o++ = (char)(0x80 | (v >> 6 & 0x3F)); *o++ = (char)(0x80 | (v & 0x3F)); }
            break;
        }
        default: *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

/* A copy of the raw JSON value at p (ids are echoed back verbatim). */
static char *raw_at(const char *p) {
    if (!p) return NULL;
    p = ws(p);
    const char *end = skip_value(p);
    if (!end) return NULL;
    return strndup(p, (size_t)(end - p));
}

/* ---------- output ----------------------------------------------------------------- */

static char *quote(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n * 6 + 3), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c == '\r') { *o++ = '\\'; *o++ = 'r'; }
        else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
        else *o++ = (char)c;
    }
    *o++ = '"';
    *o = 0;
    return out;
}

static void send(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static char *session_id = NULL;
static const char *misbehave = "";
static int next_id = 1;
static int cancelled = 0;
static int authenticated = 0;
static char mode[64] = "code";
static char model[64] = "small";

static void update(const char *fmt, ...) {
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    send("{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"%s\",\"update\":%s}}",
         session_id ? session_id : "none", body);
}

static void chunk(const char *kind, const char *text) {
    char *q = quote(text);
    char body[64];
    snprintf(body, sizeof body, "%s", kind);
    printf("{\"jsonrpc\":\"2.0\",\"method\":\"session/update\",\"params\":{\"sessionId\":\"%s\",\"update\":"
           "{\"sessionUpdate\":\"%s\",\"content\":{\"type\":\"text\",\"text\":%s}}}}\n",
           session_id, body, q);
    fflush(stdout);
    free(q);
}

static void result(const char *id, const char *fmt, ...) {
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    send("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id, body);
}

static void error(const char *id, int code, const char *message) {
    send("{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":\"%s\"}}", id, code, message);
}

/* ---------- input --------------------------------------------------------------- */

static char *line = NULL;
static size_t line_cap = 0;

static char *read_message(void) {
    ssize_t n = getline(&line, &line_cap, stdin);
    if (n <= 0) return NULL;
    return line;
}

/* Send a request to the client and return its response line (a malloc'd copy).
 * Notifications that arrive meanwhile are handled (session/cancel sets a flag). */
static char *call(const char *method, const char *params) {
    int id = next_id++;
    send("{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}", id, method, params);
    for (;;) {
        char *msg = read_message();
        if (!msg) exit(0);
        const char *m = member(msg, "method");
        if (m) {
            char *name = string_at(m);
            if (name && strcmp(name, "session/cancel") == 0) cancelled = 1;
            free(name);
            continue;
        }
        const char *rid = member(msg, "id");
        if (rid && atoi(rid) == id) return strdup(msg);
    }
}

/* ---------- the agent's tools ------------------------------------------------------ */

static int ask_permission(const char *tool_call_id, const char *title) {
    char params[4096];
    char *t = quote(title);
    snprintf(params, sizeof params,
             "{\"sessionId\":\"%s\",\"toolCall\":{\"toolCallId\":\"%s\",\"title\":%s,\"kind\":\"edit\",\"status\":\"pending\"},"
             "\"options\":[{\"optionId\":\"allow\",\"name\":\"Allow\",\"kind\":\"allow_once\"},"
             "{\"optionId\":\"reject\",\"name\":\"Reject\",\"kind\":\"reject_once\"}]}",
             session_id, tool_call_id, t);
    free(t);
    char *response = call("session/request_permission", params);
    const char *outcome = member(member(response, "result"), "outcome");
    char *kind = string_at(member(outcome, "outcome"));
    char *option = string_at(member(outcome, "optionId"));
    int allowed = kind && strcmp(kind, "selected") == 0 && option && strcmp(option, "allow") == 0;
    if (kind && strcmp(kind, "cancelled") == 0) cancelled = 1;
    free(kind);
    free(option);
    free(response);
    return allowed;
}

static int tool_counter = 0;

static void tool_write(const char *path, const char *text) {
    char id[32];
    snprintf(id, sizeof id, "call-%d", ++tool_counter);
    char *qp = quote(path);
    char title[512];
    snprintf(title, sizeof title, "Write %s", path);
    char *qtitle = quote(title);
    update("{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"%s\",\"title\":%s,\"kind\":\"edit\",\"status\":\"pending\","
           "\"locations\":[{\"path\":%s}]}", id, qtitle, qp);
    free(qtitle);
    if (!ask_permission(id, title)) {
        update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"failed\"}", id);
        chunk("agent_message_chunk", cancelled ? "Cancelled." : "Permission denied; nothing written.");
        free(qp);
        return;
    }
    update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"in_progress\"}", id);
    char *qt = quote(text);
    size_t n = strlen(qp) + strlen(qt) + 256;
    char *params = malloc(n);
    snprintf(params, n, "{\"sessionId\":\"%s\",\"path\":%s,\"content\":%s}", session_id, qp, qt);
    char *response = call("fs/write_text_file", params);
    int ok = member(response, "error") == NULL;
    update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"%s\"}", id, ok ? "completed" : "failed");
    chunk("agent_message_chunk", ok ? "Wrote the file." : "Writing the file failed.");
    free(response);
    free(params);
    free(qt);
    free(qp);
}

static void tool_read(const char *path) {
    char id[32];
    snprintf(id, sizeof id, "call-%d", ++tool_counter);
    char *qp = quote(path);
    update("{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"%s\",\"title\":\"Read a file\",\"kind\":\"read\",\"status\":\"in_progress\","
           "\"locations\":[{\"path\":%s}]}", id, qp);
    char params[4096];
    snprintf(params, sizeof params, "{\"sessionId\":\"%s\",\"path\":%s,\"line\":1,\"limit\":100}", session_id, qp);
    char *response = call("fs/read_text_file", params);
    char *content = string_at(member(member(response, "result"), "content"));
    update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"%s\"}", id, content ? "completed" : "failed");
    chunk("agent_message_chunk", content ? content : "Reading the file failed.");
    free(content);
    free(response);
    free(qp);
}

static void tool_run(const char *command) {
    char id[32];
    snprintf(id, sizeof id, "call-%d", ++tool_counter);
    char *qc = quote(command);
    update("{\"sessionUpdate\":\"tool_call\",\"toolCallId\":\"%s\",\"title\":\"Run a command\",\"kind\":\"execute\",\"status\":\"in_progress\"}",
           id);
    size_t n = strlen(qc) + 256;
    char *params = malloc(n);
    snprintf(params, n, "{\"sessionId\":\"%s\",\"command\":\"sh\",\"args\":[\"-c\",%s],\"outputByteLimit\":65536}", session_id, qc);
    char *created = call("terminal/create", params);
    char *terminal = string_at(member(member(created, "result"), "terminalId"));
    if (!terminal) {
        update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"failed\"}", id);
        chunk("agent_message_chunk", "The command could not start.");
    } else {
        update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"content\":[{\"type\":\"terminal\",\"terminalId\":\"%s\"}]}",
               id, terminal);
        char tp[256];
        snprintf(tp, sizeof tp, "{\"sessionId\":\"%s\",\"terminalId\":\"%s\"}", session_id, terminal);
        free(call("terminal/wait_for_exit", tp));
        char *out = call("terminal/output", tp);
        char *text = string_at(member(member(out, "result"), "output"));
        free(call("terminal/release", tp));
        update("{\"sessionUpdate\":\"tool_call_update\",\"toolCallId\":\"%s\",\"status\":\"completed\"}", id);
        chunk("agent_message_chunk", text ? text : "");
        free(text);
        free(out);
        free(terminal);
    }
    free(created);
    free(params);
    free(qc);
}

/* ---------- prompt turns ----------------------------------------------------------- */

static void wait_for_cancel(void) {
    while (!cancelled) {
        char *msg = read_message();
        if (!msg) exit(0);
        char *name = string_at(member(msg, "method"));
        if (name && strcmp(name, "session/cancel") == 0 && strcmp(misbehave, "ignore-cancel") != 0) cancelled = 1;
        free(name);
    }
}

static void misbehave_now(void) {
    if (strcmp(misbehave, "garbage") == 0) {
        send("this is not JSON");
    } else if (strcmp(misbehave, "exit") == 0) {
        fprintf(stderr, "acp-agent: exiting mid-prompt as told\n");
        exit(3);
    } else if (strcmp(misbehave, "flood") == 0) {
        static char block[65536];
        memset(block, 'x', sizeof block);
        for (;;) fwrite(block, 1, sizeof block, stdout);
    } else if (strcmp(misbehave, "unknown-method") == 0) {
        char *response = call("x/unknown_method", "{}");
        const char *err = member(response, "error");
        chunk("agent_message_chunk", err ? "the client refused x/unknown_method" : "the client answered x/unknown_method");
        free(response);
    } else if (strcmp(misbehave, "stray-response") == 0) {
        send("{\"jsonrpc\":\"2.0\",\"id\":99999,\"result\":{}}");
    }
}

static void prompt(const char *id, const char *params) {
    cancelled = 0;
    char *text = string_at(member(element(member(params, "prompt"), 0), "text"));
    if (!text) text = strdup("");
    misbehave_now();
    char *q = quote(text);
    update("{\"sessionUpdate\":\"agent_thought_chunk\",\"content\":{\"type\":\"text\",\"text\":%s}}", q);
    free(q);
    update("{\"sessionUpdate\":\"plan\",\"entries\":["
           "{\"content\":\"Understand the request\",\"priority\":\"high\",\"status\":\"completed\"},"
           "{\"content\":\"Use the tools\",\"priority\":\"medium\",\"status\":\"in_progress\"},"
           "{\"content\":\"Report back\",\"priority\":\"low\",\"status\":\"pending\"}]}");
    char *rest = strchr(text, ' ');
    char *arg = rest ? rest + 1 : (char *)"";
    if (rest) *rest = 0;
    if (strcmp(text, "write") == 0) {
        char *body = strchr(arg, ' ');
        if (body) *body++ = 0;
        tool_write(arg, body ? body : "");
    } else if (strcmp(text, "read") == 0) {
        tool_read(arg);
    } else if (strcmp(text, "run") == 0) {
        tool_run(arg);
    } else if (strcmp(text, "demo") == 0) {
        tool_write(arg, "written by acp-agent\n");
        if (!cancelled) tool_read(arg);
        char wc[4200];
        snprintf(wc, sizeof wc, "wc -c %s", arg);
        if (!cancelled) tool_run(wc);
    } else if (strcmp(text, "sleep") == 0) {
        chunk("agent_message_chunk", "Sleeping until cancelled.");
        wait_for_cancel();
    } else {
        if (rest) *rest = ' ';
        chunk("agent_message_chunk", "You said: ");
        chunk("agent_message_chunk", text);
    }
    free(text);
    result(id, "{\"stopReason\":\"%s\"}", cancelled ? "cancelled" : "end_turn");
}

static void config_options(char *out, size_t n) {
    snprintf(out, n,
             "[{\"id\":\"model\",\"name\":\"Model\",\"type\":\"select\",\"currentValue\":\"%s\","
             "\"options\":[{\"value\":\"small\",\"name\":\"Small\"},{\"value\":\"large\",\"name\":\"Large\"}]}]",
             model);
}

static void new_session(const char *id, const char *name) {
    char opts[1024];
    config_options(opts, sizeof opts);
    free(session_id);
    session_id = strdup(name);
    result(id, "{\"sessionId\":\"%s\",\"modes\":{\"currentModeId\":\"%s\",\"availableModes\":["
               "{\"id\":\"code\",\"name\":\"Code\"},{\"id\":\"plan\",\"name\":\"Plan\"}]},\"configOptions\":%s}",
           session_id, mode, opts);
}

static void handle(const char *msg) {
    const char *idp = member(msg, "id");
    char *method = string_at(member(msg, "method"));
    const char *params = member(msg, "params");
    char *id = raw_at(idp);
    if (!method || !id) goto done; /* notifications (session/cancel while idle) and stray responses */
    if (strcmp(method, "initialize") == 0) {
        if (strcmp(misbehave, "silent-init") == 0) goto done;
        result(id, "{\"protocolVersion\":1,\"agentCapabilities\":{\"loadSession\":true,"
                   "\"sessionCapabilities\":{\"resume\":{},\"close\":{}}},"
                   "\"agentInfo\":{\"name\":\"acp-agent\",\"title\":\"agentvm reference agent\",\"version\":\"1.0.0\"},"
                   "\"authMethods\":%s}",
               getenv("ACP_AGENT_REQUIRE_AUTH") ? "[{\"id\":\"token\",\"name\":\"Token\"}]" : "[]");
    } else if (strcmp(method, "authenticate") == 0) {
        authenticated = 1;
        result(id, "{}");
    } else if (strcmp(method, "session/new") == 0) {
        if (getenv("ACP_AGENT_REQUIRE_AUTH") && !authenticated) error(id, -32000, "Authentication required");
        else new_session(id, "sess-1");
    } else if (strcmp(method, "session/load") == 0 || strcmp(method, "session/resume") == 0) {
        char *sid = string_at(member(params, "sessionId"));
        free(session_id);
        session_id = sid ? sid : strdup("sess-1");
        if (method[8] == 'l') chunk("agent_message_chunk", "restored conversation");
        result(id, "{}");
    } else if (strcmp(method, "session/prompt") == 0) {
        prompt(id, params);
    } else if (strcmp(method, "session/set_mode") == 0) {
        char *m = string_at(member(params, "modeId"));
        snprintf(mode, sizeof mode, "%s", m ? m : "code");
        free(m);
        result(id, "{}");
        update("{\"sessionUpdate\":\"current_mode_update\",\"currentModeId\":\"%s\"}", mode);
    } else if (strcmp(method, "session/set_config_option") == 0) {
        char *v = string_at(member(params, "value"));
        if (!v || (strcmp(v, "small") != 0 && strcmp(v, "large") != 0)) {
            error(id, -32602, "unknown value for model");
        } else {
            snprintf(model, sizeof model, "%s", v);
            char opts[1024];
            config_options(opts, sizeof opts);
            result(id, "{\"configOptions\":%s}", opts);
        }
        free(v);
    } else if (strcmp(method, "session/close") == 0) {
        result(id, "{}");
    } else {
        error(id, -32601, "Method not found");
    }
done:
    free(method);
    free(id);
}

int main(int argc, char **argv) {
    if (argc > 1 && strncmp(argv[1], "--misbehave=", 12) == 0) misbehave = argv[1] + 12;
    char *msg;
    while ((msg = read_message()) != NULL) {
        char *copy = strdup(msg);
        handle(copy);
        free(copy);
    }
    return 0;
}
