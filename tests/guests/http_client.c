/* An HTTP/1.1 client over the agentOS host_net ABI, for the networking tests.
 *
 *   http_client [--tls] [--insecure] [--resolve] HOST PORT PATH [BODY]
 *
 * GET PATH (POST BODY when given) from HOST:PORT with "Connection: close"; prints
 * the whole response (status line, headers, body) to stdout.  The address reaches
 * the sidecar as the string "HOST:PORT" (net_connect resolves and applies the VM's
 * policy), or with --resolve the way the agentOS libc's getaddrinfo()+connect() do:
 * net_getaddrinfo, then net_connect to the first address it returned.  --tls
 * upgrades the connection with net_tls_connect (the 4-argument form agentOS's curl
 * imports; --insecure sets its skip-verification flag).
 * Errors print "error <step> errno=<n>" (WASI errno numbers) and exit 2.
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
NET("net_getaddrinfo") uint32_t net_getaddrinfo(const uint8_t *host, uint32_t host_len, const uint8_t *port,
                                                uint32_t port_len, uint8_t *ret, uint32_t *ret_len);

#define AF_INET_WASI 1
#define SOCK_STREAM_WASI 6

static void fail(const char *step, uint32_t err) {
    printf("error %s errno=%u\n", step, err);
    fflush(stdout);
    exit(2);
}

int main(int argc, char **argv) {
    int tls = 0, insecure = 0, resolve = 0, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--tls") == 0) tls = 1;
        else if (strcmp(argv[i], "--insecure") == 0) insecure = 1;
        else if (strcmp(argv[i], "--resolve") == 0) resolve = 1;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: http_client [--tls] [--insecure] [--resolve] HOST PORT PATH [BODY]\n");
        return 64;
    }
    const char *host = argv[i], *port = argv[i + 1], *path = argv[i + 2];
    const char *body = argc - i > 3 ? argv[i + 3] : NULL;
    uint32_t fd, err;
    char addr[512];
    int alen;
    if (resolve) {
        char found[4096];
        uint32_t flen = sizeof found - 1;
        err = net_getaddrinfo((const uint8_t *)host, (uint32_t)strlen(host), (const uint8_t *)port,
                              (uint32_t)strlen(port), (uint8_t *)found, &flen);
        if (err) fail("getaddrinfo", err);
        found[flen] = 0;
        char *a = strstr(found, "\"addr\":\"");  /* [{"addr":"...","family":4}, ...] */
        if (!a) fail("getaddrinfo-parse", 0);
        a += 8;
        alen = snprintf(addr, sizeof addr, "%.*s:%s", (int)(strchr(a, '"') - a), a, port);
    } else {
        alen = snprintf(addr, sizeof addr, "%s:%s", host, port);
    }
    if ((err = net_socket(AF_INET_WASI, SOCK_STREAM_WASI, 0, &fd))) fail("socket", err);
    if ((err = net_connect(fd, (const uint8_t *)addr, (uint32_t)alen))) fail("connect", err);
    if (tls && (err = net_tls_connect(fd, (const uint8_t *)host, (uint32_t)strlen(host), (uint32_t)insecure)))
        fail("tls", err);
    static char request[65536];
    int n = body ? snprintf(request, sizeof request,
                            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            path, host, strlen(body), body)
                 : snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
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
