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
 *       anything else    echoes the text, or, when a model is configured (below),
 *                        asks the model and streams its answer
 *     then message chunks and stopReason end_turn.
 *   - A model: with OPENAI_BASE_URL (http:// or https://) and OPENAI_API_KEY in its
 *     env (OPENAI_MODEL optional), free text goes to the OpenAI Responses API
 *     (POST $OPENAI_BASE_URL/responses, "stream": true) over the VM's network
 *     (host_net: the sidecar resolves the name, applies the VM's egress policy and
 *     does TLS), with the conversation so far as `input`; every
 *     `response.output_text.delta` becomes an agent_message_chunk as it arrives. A
 *     session/cancel closes the connection at once. A failed request (a denied or
 *     refused connect, an HTTP error, `response.failed`, a cut stream) answers the
 *     prompt with a JSON-RPC error whose data names the step and the WASI errno.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
            if (v >= 0xD800 && v < 0xDC00 && p[1] == '\\' && p[2] == 'u') { /* a surrogate pair */
                unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                    *o++ = (char)(0xF0 | v >> 18); *o++ = (char)(0x80 | (v >> 12 & 0x3F));
                    *o++ = (char)(0x80 | (v >> 6 & 0x3F)); *o++ = (char)(0x80 | (v & 0x3F));
                    break;
                }
            }
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

/* Lines are read from fd 0 into our own buffer (not stdio's), so the model client
 * can tell whether a whole message is already buffered before it polls fd 0. */
static char *in_buf = NULL;
static size_t in_start = 0, in_len = 0, in_cap = 0;

static char *buffered_line_end(void) {
    return in_len > in_start ? memchr(in_buf + in_start, '\n', in_len - in_start) : NULL;
}

static int input_pending(void) { return buffered_line_end() != NULL; }

/* The next line from the client (valid until the next call), NULL at end of input. */
static char *read_message(void) {
    for (;;) {
        char *end = buffered_line_end();
        if (end) {
            char *line = in_buf + in_start;
            *end = 0;
            in_start = (size_t)(end - in_buf) + 1;
            return line;
        }
        if (in_start > 0) {
            memmove(in_buf, in_buf + in_start, in_len - in_start);
            in_len -= in_start;
            in_start = 0;
        }
        if (in_cap - in_len < 65536) {
            in_cap = in_cap ? in_cap * 2 : 131072;
            in_buf = realloc(in_buf, in_cap + 1);
        }
        ssize_t n = read(0, in_buf + in_len, in_cap - in_len);
        if (n <= 0) {
            if (in_len == 0) return NULL;
            in_buf[in_len] = 0; /* a last line without its newline */
            in_start = in_len;
            return in_buf;
        }
        in_len += (size_t)n;
    }
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

/* ---------- the model: the OpenAI Responses API over host_net --------------------- */

#define NET(name) __attribute__((import_module("host_net"), import_name(name)))
NET("net_socket") uint32_t net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);
NET("net_connect") uint32_t net_connect(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_tls_connect") uint32_t net_tls_connect(uint32_t fd, const uint8_t *host, uint32_t host_len, uint32_t insecure);
NET("net_send") uint32_t net_send(uint32_t fd, const uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_sent);
NET("net_recv") uint32_t net_recv(uint32_t fd, uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_received);
NET("net_poll") uint32_t net_poll(void *fds, uint32_t nfds, int32_t timeout_ms, uint32_t *ret_ready);
NET("net_close") uint32_t net_close(uint32_t fd);

struct pollfd_wasi { int32_t fd; int16_t events, revents; };
#define POLLIN_WASI 0x1
#define MAX_HISTORY_BYTES (1 << 20)     /* later turns are not kept beyond this */
#define MAX_SSE_LINE_BYTES (4 << 20)
#define MAX_ERROR_BODY_BYTES 4096

static char *history = NULL; /* the `input` items so far, comma-separated JSON */

/* Why a model request failed: the step, a WASI errno (0 if none), a message. */
struct failure { const char *step; uint32_t err; char message[512]; };

static int fail_with(struct failure *f, const char *step, uint32_t err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    f->step = step;
    f->err = err;
    return -1;
}

static const char *errno_name(uint32_t err) {
    switch (err) {
    case 2: return "EACCES (the VM's network policy denies it)";
    case 14: return "ECONNREFUSED";
    case 15: return "ECONNRESET";
    case 23: return "EHOSTUNREACH";
    case 44: return "ENOENT (the name does not resolve)";
    case 73: return "ETIMEDOUT";
    default: return "an error";
    }
}

struct endpoint { int tls; char host[256]; char port[8]; char path[1024]; };

/* Split OPENAI_BASE_URL into scheme, host, port and path (+ "/responses"). */
static int parse_base_url(const char *url, struct endpoint *e, struct failure *f) {
    const char *rest;
    if (strncmp(url, "http://", 7) == 0) e->tls = 0, rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0) e->tls = 1, rest = url + 8;
    else return fail_with(f, "url", 0, "OPENAI_BASE_URL must start with http:// or https://");
    size_t hostport = strcspn(rest, "/");
    const char *colon = memchr(rest, ':', hostport);
    size_t hlen = colon ? (size_t)(colon - rest) : hostport;
    if (hlen == 0 || hlen >= sizeof e->host) return fail_with(f, "url", 0, "OPENAI_BASE_URL has no usable host");
    memcpy(e->host, rest, hlen);
    e->host[hlen] = 0;
    snprintf(e->port, sizeof e->port, "%.*s", colon ? (int)(hostport - hlen - 1) : 0, colon ? colon + 1 : "");
    if (!e->port[0]) strcpy(e->port, e->tls ? "443" : "80");
    const char *path = rest + hostport;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/') plen--;
    if (plen + sizeof "/responses" > sizeof e->path) return fail_with(f, "url", 0, "OPENAI_BASE_URL's path is too long");
    snprintf(e->path, sizeof e->path, "%.*s/responses", (int)plen, path);
    return 0;
}

/* What one streamed response has produced so far. */
struct stream {
    struct failure *f;
    int done;            /* response.completed (or .incomplete) seen */
    int incomplete;      /* response.incomplete: the answer was cut short (max_output_tokens) */
    char *answer;        /* the text streamed so far */
    size_t answer_len, answer_cap;
    char *line;          /* the SSE line being assembled */
    size_t line_len, line_cap;
    char *data;          /* the event's data lines, joined */
    size_t data_len, data_cap;
};

static void append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* One whole SSE event (its data is a Responses API event object). */
static int sse_event(struct stream *s) {
    if (s->data_len == 0) return 0;
    char *type = string_at(member(s->data, "type"));
    int rc = 0;
    if (!type) {
        rc = fail_with(s->f, "stream", 0, "an event without a type");
    } else if (strcmp(type, "response.output_text.delta") == 0) {
        char *delta = string_at(member(s->data, "delta"));
        if (delta && *delta) {
            chunk("agent_message_chunk", delta);
            append(&s->answer, &s->answer_len, &s->answer_cap, delta, strlen(delta));
        }
        free(delta);
    } else if (strcmp(type, "response.completed") == 0) {
        s->done = 1;
    } else if (strcmp(type, "response.incomplete") == 0) {
        s->done = s->incomplete = 1;
    } else if (strcmp(type, "response.failed") == 0 || strcmp(type, "error") == 0) {
        const char *err = member(member(s->data, "response"), "error");
        char *message = string_at(member(err ? err : s->data, "message"));
        rc = fail_with(s->f, "model", 0, "the model failed: %s", message ? message : "no message");
        free(message);
    }
    free(type);
    s->data_len = 0;
    return rc;
}

/* Feed decoded body bytes to the SSE parser ("data:" lines, blank line ends an event). */
static int sse_feed(struct stream *s, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] != '\n') {
            if (s->line_len >= MAX_SSE_LINE_BYTES) return fail_with(s->f, "stream", 0, "an SSE line longer than %d bytes", MAX_SSE_LINE_BYTES);
            append(&s->line, &s->line_len, &s->line_cap, bytes + i, 1);
            continue;
        }
        char *line = s->line ? s->line : (char *)"";
        size_t len = s->line_len;
        if (len > 0 && line[len - 1] == '\r') line[--len] = 0;
        if (len == 0) {
            if (sse_event(s) < 0) return -1;
        } else if (strncmp(line, "data:", 5) == 0) {
            const char *value = line[5] == ' ' ? line + 6 : line + 5;
            if (s->data_len) append(&s->data, &s->data_len, &s->data_cap, "\n", 1);
            append(&s->data, &s->data_len, &s->data_cap, value, strlen(value));
        }
        s->line_len = 0;
        if (s->line) s->line[0] = 0;
    }
    return 0;
}

/* The HTTP response: headers, then a body plain or chunked (RFC 9112 section 7.1). */
struct http {
    int fd;
    struct failure *f;
    uint8_t buf[65536];
    size_t len;           /* bytes in buf not yet consumed */
    int status, chunked, eof;
    long chunk_left;      /* -1: expecting a chunk-size line; -2: the CRLF after a chunk */
};

static int http_recv(struct http *h) {
    if (h->len == sizeof h->buf) return fail_with(h->f, "response", 0, "a response line is too long");
    for (;;) {
        /* Wait for the model or for the client: a session/cancel must not wait for the model. */
        if (!input_pending()) {
            struct pollfd_wasi fds[2] = {{h->fd, POLLIN_WASI, 0}, {0, POLLIN_WASI, 0}};
            uint32_t ready = 0, err = net_poll(fds, 2, -1, &ready);
            if (err) return fail_with(h->f, "poll", err, "waiting for the model failed");
            if (!fds[1].revents) {
                if (!fds[0].revents) continue;
                uint32_t got = 0;
                err = net_recv((uint32_t)h->fd, h->buf + h->len, (uint32_t)(sizeof h->buf - h->len), 0, &got);
                if (err) return fail_with(h->f, "recv", err, "reading the response failed");
                if (got == 0) h->eof = 1;
                h->len += got;
                return (int)got;
            }
        }
        char *msg = read_message();
        if (!msg) exit(0); /* the client went away */
        char *name = string_at(member(msg, "method"));
        if (name && strcmp(name, "session/cancel") == 0) cancelled = 1;
        free(name);
        if (cancelled) return -1;
    }
}

static void http_consume(struct http *h, size_t n) {
    memmove(h->buf, h->buf + n, h->len - n);
    h->len -= n;
}

static int http_headers(struct http *h) {
    for (;;) {
        uint8_t *end = NULL;
        for (size_t i = 3; i < h->len && !end; i++)
            if (memcmp(h->buf + i - 3, "\r\n\r\n", 4) == 0) end = h->buf + i + 1;
        if (end) {
            *(end - 2) = 0;
            char *head = (char *)h->buf;
            if (sscanf(head, "HTTP/1.%*d %d", &h->status) != 1) return fail_with(h->f, "response", 0, "not an HTTP/1.x response");
            for (char *line = strstr(head, "\r\n"); line; ) {
                line += 2;
                char *next = strstr(line, "\r\n");
                if (next) *next = 0;
                if (strncasecmp(line, "transfer-encoding:", 18) == 0)
                    for (char *c = line; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                if (strncmp(line, "transfer-encoding:", 18) == 0 && strstr(line, "chunked")) h->chunked = 1;
                line = next;
            }
            http_consume(h, (size_t)(end - h->buf));
            h->chunk_left = -1;
            return 0;
        }
        int got = http_recv(h);
        if (got < 0) return -1;
        if (got == 0) return fail_with(h->f, "response", 0, "the connection closed before the response headers");
    }
}

/* The next piece of the decoded body into (*out, *n); 0 at its end, -1 on failure. */
static int http_body(struct http *h, const uint8_t **out, size_t *n, size_t *consume) {
    for (;;) {
        if (!h->chunked) {
            if (h->len > 0) { *out = h->buf, *n = *consume = h->len; return 1; }
        } else if (h->chunk_left > 0 && h->len > 0) {
            *n = *consume = h->len < (size_t)h->chunk_left ? h->len : (size_t)h->chunk_left;
            *out = h->buf;
            h->chunk_left -= (long)*n;
            if (h->chunk_left == 0) h->chunk_left = -2;
            return 1;
        } else if (h->chunk_left == -2 && h->len >= 2) {
            http_consume(h, 2);
            h->chunk_left = -1;
            continue;
        } else if (h->chunk_left == -1) {
            uint8_t *crlf = NULL;
            for (size_t i = 1; i < h->len && !crlf; i++)
                if (h->buf[i - 1] == '\r' && h->buf[i] == '\n') crlf = h->buf + i - 1;
            if (crlf) {
                long size = strtol((char *)h->buf, NULL, 16);
                http_consume(h, (size_t)(crlf - h->buf) + 2);
                if (size <= 0) return 0; /* the last chunk (trailers are not read) */
                h->chunk_left = size;
                continue;
            }
        }
        if (h->eof) {
            if (h->chunked) return fail_with(h->f, "stream", 0, "the connection closed in the middle of the response");
            return 0;
        }
        if (http_recv(h) < 0) return -1;
    }
}

static int send_all(int fd, const char *data, size_t n, struct failure *f) {
    for (size_t off = 0; off < n;) {
        uint32_t sent = 0, err = net_send((uint32_t)fd, (const uint8_t *)data + off, (uint32_t)(n - off), 0, &sent);
        if (err) return fail_with(f, "send", err, "sending the request failed");
        off += sent;
    }
    return 0;
}

/* POST the conversation to the Responses API and stream the answer as message chunks.
 * Returns 0 (s->answer holds the text), or -1 with `f` filled or `cancelled` set. */
static int ask_model(const char *text, struct stream *s, struct failure *f) {
    struct endpoint e;
    if (parse_base_url(getenv("OPENAI_BASE_URL"), &e, f) < 0) return -1;
    const char *model_name = getenv("OPENAI_MODEL");
    char *qtext = quote(text), *qmodel = quote(model_name && *model_name ? model_name : "gpt-5");
    size_t body_cap = strlen(qtext) + strlen(qmodel) + (history ? strlen(history) : 0) + 128;
    char *body = malloc(body_cap);
    int body_len = snprintf(body, body_cap, "{\"model\":%s,\"stream\":true,\"input\":[%s%s{\"role\":\"user\",\"content\":%s}]}",
                            qmodel, history ? history : "", history ? "," : "", qtext);
    free(qtext);
    free(qmodel);
    const char *key = getenv("OPENAI_API_KEY");
    size_t head_cap = strlen(key) + sizeof e.host + sizeof e.path + 256;
    char *head = malloc(head_cap);
    int head_len = snprintf(head, head_cap,
                            "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                            "Accept: text/event-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
                            e.path, e.host, key, body_len);
    char addr[300];
    int alen = snprintf(addr, sizeof addr, "%s:%s", e.host, e.port);
    uint32_t fd = 0, err;
    struct http *h = calloc(1, sizeof *h);
    int rc = -1;
    if ((err = net_socket(1, 6, 0, &fd))) {
        fail_with(f, "socket", err, "no socket");
        goto out;
    }
    h->fd = (int)fd;
    h->f = f;
    if ((err = net_connect(fd, (const uint8_t *)addr, (uint32_t)alen))) {
        fail_with(f, "connect", err, "connecting to %s failed: %s", addr, errno_name(err));
    } else if (e.tls && (err = net_tls_connect(fd, (const uint8_t *)e.host, (uint32_t)strlen(e.host), 0))) {
        fail_with(f, "tls", err, "TLS with %s failed", e.host);
    } else if (send_all((int)fd, head, (size_t)head_len, f) == 0 && send_all((int)fd, body, (size_t)body_len, f) == 0 &&
               http_headers(h) == 0) {
        const uint8_t *piece;
        size_t n, consume;
        int more;
        if (h->status != 200) {
            char text_body[MAX_ERROR_BODY_BYTES + 1];
            size_t got = 0;
            while ((more = http_body(h, &piece, &n, &consume)) > 0 && got < MAX_ERROR_BODY_BYTES) {
                size_t take = n < MAX_ERROR_BODY_BYTES - got ? n : MAX_ERROR_BODY_BYTES - got;
                memcpy(text_body + got, piece, take);
                got += take;
                http_consume(h, consume);
            }
            text_body[got] = 0;
            char *message = string_at(member(member(text_body, "error"), "message"));
            fail_with(f, "http", 0, "the model endpoint answered HTTP %d: %s", h->status, message ? message : "no error message");
            free(message);
        } else {
            more = 0;
            while (!s->done && (more = http_body(h, &piece, &n, &consume)) > 0) {
                if (sse_feed(s, (const char *)piece, n) < 0) break;
                http_consume(h, consume);
            }
            if (more >= 0 && !f->step && !s->done) {
                if (s->data_len) sse_event(s); /* an event the stream ended without a blank line after */
                if (!s->done && !f->step) fail_with(f, "stream", 0, "the stream ended without response.completed");
            }
            rc = s->done && !f->step ? 0 : -1;
        }
    }
    net_close(fd);
out:
    free(h);
    free(head);
    free(body);
    return rc;
}

/* Keep the turn in the conversation sent with the next request. */
static void remember(const char *user, const char *assistant) {
    char *qu = quote(user), *qa = quote(assistant);
    size_t old = history ? strlen(history) : 0, need = old + strlen(qu) + strlen(qa) + 96;
    if (need <= MAX_HISTORY_BYTES) {
        history = realloc(history, need);
        snprintf(history + old, need - old, "%s{\"role\":\"user\",\"content\":%s},{\"role\":\"assistant\",\"content\":%s}",
                 old ? "," : "", qu, qa);
    }
    free(qu);
    free(qa);
}

static int model_configured(void) {
    const char *url = getenv("OPENAI_BASE_URL"), *key = getenv("OPENAI_API_KEY");
    return url && *url && key && *key;
}

/* The model's turn: 0 when answered (or cancelled); -1 with `f` filled on failure.
 * `*max_tokens` is set when the model stopped at its output limit. */
static int model_turn(const char *text, struct failure *f, int *max_tokens) {
    struct stream s = {.f = f};
    int rc = ask_model(text, &s, f);
    if (rc == 0) remember(text, s.answer ? s.answer : "");
    *max_tokens = s.incomplete;
    free(s.answer);
    free(s.line);
    free(s.data);
    return cancelled ? 0 : rc;
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
    int max_tokens = 0;
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
    } else if (model_configured()) {
        if (rest) *rest = ' ';
        struct failure f = {0};
        if (model_turn(text, &f, &max_tokens) < 0) {
            char *qm = quote(f.message);
            send("{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32603,\"message\":%s,"
                 "\"data\":{\"step\":\"%s\",\"errno\":%u}}}", id, qm, f.step, f.err);
            free(qm);
            free(text);
            return;
        }
    } else {
        if (rest) *rest = ' ';
        chunk("agent_message_chunk", "You said: ");
        chunk("agent_message_chunk", text);
    }
    free(text);
    result(id, "{\"stopReason\":\"%s\"}", cancelled ? "cancelled" : max_tokens ? "max_tokens" : "end_turn");
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
