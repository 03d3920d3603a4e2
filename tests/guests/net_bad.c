/* Hostile and edge-case use of the host_net ABI, for the networking tests.
 *
 *   net_bad probe PORT [udp]  print "open" if a guest socket holds VM (TCP or UDP) port PORT, else "closed"
 *   net_bad input PORT     bad arguments, one "<check> errno=<n>" line each (WASI errno
 *                          numbers); PORT is a free VM port the checks may listen on
 *   net_bad storm PORT N   listen on PORT, then open N loopback connections without
 *                          accepting; prints "storm <connected> errno=<n>" at the first failure
 *   net_bad neverread PORT a peer that never reads: non-blocking sends until EAGAIN,
 *                          prints "neverread sent=<bytes> errno=<n>"
 *   net_bad rcvtimeo PORT  a recv with SO_RCVTIMEO 50 ms and no data: "rcvtimeo errno=<n>"
 *   net_bad wasi PORT      preview1 on sockets: sock_accept/send/recv/shutdown, fd_write,
 *                          fd_read and poll_oneoff readiness; one "<check> ..." line each
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

#define NET(name) __attribute__((import_module("host_net"), import_name(name)))
NET("net_socket") uint32_t net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);
NET("net_connect") uint32_t net_connect(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_bind") uint32_t net_bind(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_listen") uint32_t net_listen(uint32_t fd, uint32_t backlog);
NET("net_send") uint32_t net_send(uint32_t fd, const uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_sent);
NET("net_recv") uint32_t net_recv(uint32_t fd, uint8_t *buf, uint32_t len, uint32_t flags, uint32_t *ret_received);
NET("net_poll") uint32_t net_poll(uint8_t *fds, uint32_t nfds, int32_t timeout_ms, uint32_t *ret_ready);
NET("net_set_nonblock") uint32_t net_set_nonblock(uint32_t fd, uint32_t nonblock);
NET("net_getaddrinfo") uint32_t net_getaddrinfo(const uint8_t *host, uint32_t host_len, const uint8_t *port,
                                                uint32_t port_len, uint8_t *ret, uint32_t *ret_len);
NET("net_setsockopt") uint32_t net_setsockopt(uint32_t fd, uint32_t level, uint32_t name, const uint8_t *val, uint32_t len);
NET("net_tls_connect") uint32_t net_tls_connect(uint32_t fd, const uint8_t *host, uint32_t host_len, uint32_t insecure);

#define AF_INET_WASI 1
#define SOCK_STREAM_WASI 6
#define SOCK_DGRAM_WASI 5

static uint32_t stream_socket(void) {
    uint32_t fd, err = net_socket(AF_INET_WASI, SOCK_STREAM_WASI, 0, &fd);
    if (err) {
        printf("socket errno=%u\n", err);
        exit(2);
    }
    return fd;
}

static uint32_t at(uint32_t fd, const char *op, const char *addr) {
    uint32_t len = (uint32_t)strlen(addr);
    return strcmp(op, "bind") == 0 ? net_bind(fd, (const uint8_t *)addr, len) : net_connect(fd, (const uint8_t *)addr, len);
}

static void check(const char *name, uint32_t err) { printf("%s errno=%u\n", name, err); }

static uint32_t listener(const char *port) {
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    uint32_t fd = stream_socket(), err;
    if ((err = at(fd, "bind", addr)) || (err = net_listen(fd, 128))) {
        printf("listen errno=%u\n", err);
        exit(2);
    }
    return fd;
}

static uint32_t connected(const char *port) {
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    uint32_t fd = stream_socket(), err = at(fd, "connect", addr);
    if (err) {
        printf("connect errno=%u\n", err);
        exit(2);
    }
    return fd;
}

static uint8_t pollfds[5000 * 8];

int main(int argc, char **argv) {
    if (argc < 3) return 64;
    const char *mode = argv[1], *port = argv[2];
    uint32_t n, err;
    if (strcmp(mode, "probe") == 0) {
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
        uint32_t fd = stream_socket();
        if (argc > 3) net_socket(AF_INET_WASI, SOCK_DGRAM_WASI, 0, &fd); /* "udp" */
        printf(at(fd, "bind", addr) == 3 /* EADDRINUSE */ ? "open\n" : "closed\n");
        return 0;
    }
    if (strcmp(mode, "storm") == 0) {
        listener(port);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
        for (int i = 0, total = atoi(argv[3]); i < total; i++) {
            uint32_t fd;
            if ((err = net_socket(AF_INET_WASI, SOCK_STREAM_WASI, 0, &fd)) || (err = at(fd, "connect", addr))) {
                printf("storm %d errno=%u\n", i, err);
                return 0;
            }
        }
        printf("storm all connected\n");
        return 0;
    }
    if (strcmp(mode, "neverread") == 0) {
        listener(port);
        uint32_t fd = connected(port);
        net_set_nonblock(fd, 1);
        static uint8_t chunk[65536];
        size_t total = 0;
        while ((err = net_send(fd, chunk, sizeof chunk, 0, &n)) == 0) total += n;
        printf("neverread sent=%zu errno=%u\n", total, err);
        return 0;
    }
    if (strcmp(mode, "rcvtimeo") == 0) {
        listener(port);
        uint32_t fd = connected(port);
        int64_t timeval[2] = {0, 50000}; /* 50 ms */
        if ((err = net_setsockopt(fd, 0x7fffffff /* SOL_SOCKET */, 66 /* SO_RCVTIMEO */, (uint8_t *)timeval, 16)))
            printf("setsockopt errno=%u\n", err);
        uint8_t b[8];
        printf("rcvtimeo errno=%u\n", net_recv(fd, b, sizeof b, 0, &n));
        return 0;
    }
    if (strcmp(mode, "wasi") == 0) {
        uint32_t srv = listener(port);
        uint32_t cli = connected(port);
        __wasi_fd_t conn;
        check("sock_accept", __wasi_sock_accept(srv, 0, &conn));
        __wasi_ciovec_t out = {(const uint8_t *)"ping", 4};
        __wasi_size_t done = 0;
        check("sock_send", __wasi_sock_send(cli, &out, 1, 0, &done));
        uint8_t b[16] = {0};
        __wasi_iovec_t in = {b, sizeof b};
        __wasi_roflags_t roflags;
        __wasi_subscription_t sub = {.userdata = 7, .u = {.tag = __WASI_EVENTTYPE_FD_READ, .u = {.fd_read = {conn}}}};
        __wasi_event_t ev;
        __wasi_size_t nev = 0;
        err = __wasi_poll_oneoff(&sub, &ev, 1, &nev);
        printf("poll_oneoff errno=%u events=%u userdata=%llu nbytes=%llu\n", err, nev, (unsigned long long)ev.userdata,
               (unsigned long long)ev.fd_readwrite.nbytes);
        err = __wasi_sock_recv(conn, &in, 1, 0, &done, &roflags);
        printf("sock_recv errno=%u data=%.*s\n", err, (int)done, b);
        ssize_t wrote = write((int)conn, "pong", 4); /* fd_write on a socket */
        ssize_t got = read((int)cli, b, sizeof b);   /* fd_read on a socket */
        printf("fd_write=%zd fd_read=%zd data=%.*s\n", wrote, got, (int)(got > 0 ? got : 0), b);
        check("sock_shutdown", __wasi_sock_shutdown(conn, __WASI_SDFLAGS_WR));
        printf("recv-after-shutdown errno=%u n=%u\n", net_recv(cli, b, sizeof b, 0, &n), n);
        check("sock_send-file-fd", __wasi_sock_send(1, &out, 1, 0, &done));
        return 0;
    }
    /* input */
    uint8_t buf[64];
    check("send-unknown-fd", net_send(999, buf, 1, 0, &n));
    check("connect-unknown-fd", at(999, "connect", "127.0.0.1:80"));
    check("connect-file-fd", at(1, "connect", "127.0.0.1:80"));
    uint32_t fd = stream_socket();
    errno = 0;
    lseek((int)fd, 0, SEEK_CUR);
    check("seek-socket", (uint32_t)errno);
    check("connect-no-port", at(fd, "connect", "127.0.0.1"));
    check("connect-port-0", at(fd, "connect", "127.0.0.1:0"));
    check("connect-port-70000", at(fd, "connect", "127.0.0.1:70000"));
    check("connect-bad-host", at(fd, "connect", "bad host!:80"));
    check("connect-nobody-listens", at(fd, "connect", "127.0.0.1:1"));
    uint32_t srv = listener(port);
    uint32_t cli = connected(port);
    check("recv-outside-memory", net_recv(cli, (uint8_t *)0xFFFFFF00u, 4096, 0, &n));
    check("send-outside-memory", net_send(cli, (uint8_t *)0xFFFFFF00u, 4096, 0, &n));
    net_set_nonblock(cli, 1);
    err = net_send(cli, (uint8_t *)16, 0xFFFFFFF0u, 0, &n);
    printf("huge-send errno=%u sent=%u\n", err, n);
    check("tls-on-loopback", net_tls_connect(cli, (const uint8_t *)"x", 1, 0));
    check("poll-5000", net_poll(pollfds, 5000, 0, &n));
    memset(pollfds, 0xff, 1000 * 8); /* fd -1 everywhere: ignored entries */
    err = net_poll(pollfds, 1000, 0, &n);
    printf("poll-1000 errno=%u ready=%u\n", err, n);
    char found[256];
    uint32_t flen = sizeof found;
    check("getaddrinfo-bad-name", net_getaddrinfo((const uint8_t *)"bad name", 8, (const uint8_t *)"80", 2, (uint8_t *)found, &flen));
    uint32_t dgram;
    net_socket(AF_INET_WASI, SOCK_DGRAM_WASI, 0, &dgram);
    check("listen-datagram", net_listen(dgram, 1));
    (void)srv;
    return 0;
}
