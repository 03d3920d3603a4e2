/* An HTTP/1.1 client over host_net that sends any method, headers and body, for
 * the host tools and secrets tests.
 *
 *   http_request [--tls] HOST PORT METHOD PATH [-H "Name: value"]... [-d BODY]
 *
 * "${VAR}" in a header value is replaced by getenv("VAR") (how an agent passes
 * $AGENTVM_TOOLS_TOKEN or a secret's placeholder).  Sends "Connection: close" and
 * prints the whole response.  Errors print "error <step> errno=<n>" and exit 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NET(name) __attribute__((import_module("host_net"), import_name(name)))
NET("net_socket") uint32_t net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);
NET("net_connect") uint32_t net_connect(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_send") uint32_t net_send(uint32_t fd, const uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_sent);
NET("net_recv") uint32_t net_recv(uint32_t fd, uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_received);
NET("net_close") uint32_t net_close(uint32_t fd);
NET("net_tls_connect") uint32_t net_tls_connect(uint32_t fd, const uint8_t *host, uint32_t host_len, uint32_t insecure);

static void fail(const char *step, uint32_t err) {
    printf("error %s errno=%u\n", step, err);
    fflush(stdout);
    exit(2);
}

/* Append `value` to `out` with ${VAR} expanded. */
static int expand(char *out, int n, int cap, const char *value) {
    while (*value && n < cap - 1) {
        if (value[0] == '$' && value[1] == '{' && strchr(value, '}')) {
            char name[256];
            const char *end = strchr(value, '}');
            snprintf(name, sizeof name, "%.*s", (int)(end - value - 2), value + 2);
            const char *got = getenv(name);
            n += snprintf(out + n, cap - n, "%s", got ? got : "");
            value = end + 1;
        } else {
            out[n++] = *value++;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    int tls = 0, i = 1;
    if (i < argc && strcmp(argv[i], "--tls") == 0) tls = 1, i++;
    if (argc - i < 4) {
        fprintf(stderr, "usage: http_request [--tls] HOST PORT METHOD PATH [-H header]... [-d body]\n");
        return 64;
    }
    const char *host = argv[i], *port = argv[i + 1], *method = argv[i + 2], *path = argv[i + 3];
    static char request[65536];
    const char *body = NULL;
    int n = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host);
    for (i += 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-H") == 0) {
            n = expand(request, n, sizeof request - 4, argv[i + 1]);
            n += snprintf(request + n, sizeof request - n, "\r\n");
        } else if (strcmp(argv[i], "-d") == 0) {
            body = argv[i + 1];
        }
    }
    if (body) n += snprintf(request + n, sizeof request - n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(body));
    n += snprintf(request + n, sizeof request - n, "\r\n%s", body ? body : "");

    uint32_t fd, err;
    char addr[512];
    int alen = snprintf(addr, sizeof addr, "%s:%s", host, port);
    if ((err = net_socket(1, 6, 0, &fd))) fail("socket", err);
    if ((err = net_connect(fd, (const uint8_t *)addr, (uint32_t)alen))) fail("connect", err);
    if (tls && (err = net_tls_connect(fd, (const uint8_t *)host, (uint32_t)strlen(host), 0))) fail("tls", err);
    for (int off = 0; off < n;) {
        uint32_t sent = 0;
        if ((err = net_send(fd, (const uint8_t *)request + off, (uint32_t)(n - off), 0, &sent))) fail("send", err);
        off += (int)sent;
    }
    static uint8_t buf[65536];
    for (;;) {
        uint32_t got = 0;
        if ((err = net_recv(fd, buf, sizeof buf, 0, &got))) fail("recv", err);
        if (got == 0) break;
        fwrite(buf, 1, got, stdout);
    }
    net_close(fd);
    return 0;
}
