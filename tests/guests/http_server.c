/* A small HTTP/1.1 server over the agentOS host_net ABI (declared below exactly as
 * agentOS's wasi-libc patch declares it), for the networking tests.
 *
 *   http_server PORT [CONNECTIONS]
 *
 * Binds 127.0.0.1:PORT (0 picks a port), prints "listening <port>" and serves
 * CONNECTIONS connections (default: forever), one request each, then closes:
 *   GET  /        200 "hello from guest\n"
 *   GET  /big     200, 5 MiB of 'x' (Content-Length 5242880)
 *   POST /echo    200, the request body; every X-* request header comes back as
 *                 X-Echo-<name>; X-Method says the method
 *   GET  /headers 200, the raw request head
 *   else          404
 * Errors print "error <step> errno=<n>" (WASI errno numbers) and exit 2.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NET(name) __attribute__((import_module("host_net"), import_name(name)))
NET("net_socket") uint32_t net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);
NET("net_bind") uint32_t net_bind(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_listen") uint32_t net_listen(uint32_t fd, uint32_t backlog);
NET("net_accept") uint32_t net_accept(uint32_t fd, uint32_t *ret_fd, uint8_t *ret_addr, uint32_t *ret_addr_len);
NET("net_send") uint32_t net_send(uint32_t fd, const uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_sent);
NET("net_recv") uint32_t net_recv(uint32_t fd, uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_received);
NET("net_close") uint32_t net_close(uint32_t fd);
NET("net_getsockname") uint32_t net_getsockname(uint32_t fd, uint8_t *ret_addr, uint32_t *ret_addr_len);

#define AF_INET_WASI 1
#define SOCK_STREAM_WASI 6
#define MAX_REQUEST (256 * 1024)
#define BIG_BYTES (5 * 1024 * 1024)

static void fail(const char *step, uint32_t err) {
    printf("error %s errno=%u\n", step, err);
    fflush(stdout);
    exit(2);
}

static int send_all(uint32_t fd, const char *data, size_t len) {
    while (len > 0) {
        uint32_t sent = 0;
        uint32_t err = net_send(fd, (const uint8_t *)data, (uint32_t)len, 0, &sent);
        if (err) return (int)err;
        data += sent;
        len -= sent;
    }
    return 0;
}

static char request[MAX_REQUEST + 1];
static char head_out[16384];

static void serve(uint32_t fd) {
    size_t have = 0;
    char *end = NULL;
    while (!(end = strstr(request, "\r\n\r\n"))) {
        uint32_t got = 0;
        if (have >= MAX_REQUEST || net_recv(fd, (uint8_t *)request + have, MAX_REQUEST - have, 0, &got) || got == 0) return;
        have += got;
        request[have] = 0;
    }
    size_t head_len = (size_t)(end - request) + 4;
    size_t body_len = 0;
    const char *cl = strcasestr(request, "\r\ncontent-length:");
    if (cl && cl < end) body_len = (size_t)strtoul(cl + 17, NULL, 10);
    if (head_len + body_len > MAX_REQUEST) body_len = MAX_REQUEST - head_len;
    while (have < head_len + body_len) {
        uint32_t got = 0;
        if (net_recv(fd, (uint8_t *)request + have, (uint32_t)(head_len + body_len - have), 0, &got) || got == 0) break;
        have += got;
    }
    char method[16] = {0}, path[1024] = {0};
    sscanf(request, "%15s %1023s", method, path);

    if (strcmp(path, "/big") == 0) {
        int n = snprintf(head_out, sizeof head_out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", BIG_BYTES);
        send_all(fd, head_out, (size_t)n);
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        for (int sent = 0; sent < BIG_BYTES; sent += (int)sizeof chunk)
            if (send_all(fd, chunk, sizeof chunk)) return;
        return;
    }
    const char *body = "hello from guest\n";
    size_t blen = strlen(body);
    int status = 200;
    char extra[8192] = {0};
    size_t elen = 0;
    if (strcmp(path, "/echo") == 0) {
        body = request + head_len;
        blen = have - head_len;
        elen += (size_t)snprintf(extra + elen, sizeof extra - elen, "X-Method: %s\r\n", method);
        for (char *line = strstr(request, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
            char *name = line + 2;
            if (strncasecmp(name, "x-", 2) != 0) continue;
            char *eol = strstr(name, "\r\n");
            if (!eol || elen + (size_t)(eol - name) + 16 >= sizeof extra) break;
            elen += (size_t)snprintf(extra + elen, sizeof extra - elen, "X-Echo-%.*s\r\n", (int)(eol - name - 2), name + 2);
        }
    } else if (strcmp(path, "/headers") == 0) {
        body = request;
        blen = head_len;
    } else if (strcmp(path, "/") != 0) {
        status = 404;
        body = "not found\n";
        blen = strlen(body);
    }
    int n = snprintf(head_out, sizeof head_out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", blen, extra);
    if (send_all(fd, head_out, (size_t)n) == 0) send_all(fd, body, blen);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: http_server PORT [CONNECTIONS]\n");
        return 64;
    }
    long connections = argc > 2 ? atol(argv[2]) : -1;
    uint32_t fd, err;
    if ((err = net_socket(AF_INET_WASI, SOCK_STREAM_WASI, 0, &fd))) fail("socket", err);
    char addr[64];
    int alen = snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[1]);
    if ((err = net_bind(fd, (const uint8_t *)addr, (uint32_t)alen))) fail("bind", err);
    if ((err = net_listen(fd, 64))) fail("listen", err);
    uint8_t local[128];
    uint32_t llen = sizeof local - 1;
    if ((err = net_getsockname(fd, local, &llen))) fail("getsockname", err);
    local[llen] = 0;
    printf("listening %s\n", strrchr((char *)local, ':') + 1);
    fflush(stdout);
    for (long served = 0; connections < 0 || served < connections; served++) {
        uint32_t conn;
        uint8_t peer[128];
        uint32_t plen = sizeof peer;
        if ((err = net_accept(fd, &conn, peer, &plen))) fail("accept", err);
        memset(request, 0, sizeof request);
        serve(conn);
        net_close(conn);
    }
    net_close(fd);
    return 0;
}
