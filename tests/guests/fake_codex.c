/* fake_codex: speaks the Codex CLI's `--session-turn` NDJSON (codex-rs/exec/src/
 * session_turn_wasi.rs in rivet-dev/codex) deterministically, so the sidecar's
 * codex adapter (acp/codex.py) is tested without a model. One turn per process:
 *   stdin:  {"type":"start","cwd","model","prompt","history":[...]} then one
 *           {"type":"permission_response","decision"} per permission_request
 *   stdout: start, text_delta, tool_call_update, permission_request, done, error
 * The prompt picks the turn: "shell FILE" asks permission for tool call
 * "call_1" and, if allowed, creates FILE (as codex's shell tool would); "fail"
 * reports an error; "hang" never finishes; anything else is echoed with the
 * number of history entries it was given ("turn N: TEXT").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *field(const char *line, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = strstr(line, pattern);
    if (!p) return strdup("");
    p += strlen(pattern);
    const char *end = p;
    while (*end && *end != '"') end += (*end == '\\' && end[1]) ? 2 : 1;
    return strndup(p, (size_t)(end - p));
}

static int count(const char *line, const char *needle) {
    int n = 0;
    for (const char *p = line; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void emit(const char *json) {
    printf("%s\n", json);
    fflush(stdout);
}

int main(void) {
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) <= 0) return 2;
    emit("{\"type\":\"start\"}");
    char *prompt = field(line, "prompt");
    int turn = count(line, "\"role\":\"user\"") + 1;
    char buf[4096];
    if (strncmp(prompt, "shell ", 6) == 0) {
        emit("{\"type\":\"permission_request\",\"tool_call_id\":\"call_1\"}");
        if (getline(&line, &cap, stdin) <= 0) return 2;
        char *decision = field(line, "decision");
        if (strcmp(decision, "allow") == 0) {
            emit("{\"type\":\"tool_call_update\",\"tool_call_id\":\"call_1\",\"status\":\"in_progress\"}");
            FILE *f = fopen(prompt + 6, "w");
            if (f) { fputs("ran\n", f); fclose(f); }
            emit("{\"type\":\"tool_call_update\",\"tool_call_id\":\"call_1\",\"status\":\"completed\"}");
            emit("{\"type\":\"text_delta\",\"delta\":\"ran it\"}");
        } else {
            emit("{\"type\":\"text_delta\",\"delta\":\"not allowed\"}");
        }
        free(decision);
    } else if (strcmp(prompt, "fail") == 0) {
        emit("{\"type\":\"error\",\"message\":\"stream disconnected before completion\"}");
        return 0;
    } else if (strcmp(prompt, "hang") == 0) {
        for (;;) sleep(1);
    } else {
        snprintf(buf, sizeof buf, "{\"type\":\"text_delta\",\"delta\":\"turn %d: \"}", turn);
        emit(buf);
        snprintf(buf, sizeof buf, "{\"type\":\"text_delta\",\"delta\":\"%s\"}", prompt);
        emit(buf);
    }
    emit("{\"type\":\"done\"}");
    return 0;
}
