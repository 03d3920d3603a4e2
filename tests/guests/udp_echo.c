/* UDP over the agentOS host_net ABI, for the networking tests.
 *
 *   udp_echo server PORT COUNT   bind 127.0.0.1:PORT, print "bound", echo COUNT datagrams
 *   udp_echo client PORT MESSAGE send MESSAGE, print "reply <text> from <addr>"
 *
 * Errors print "error <step> errno=<n>" and exit 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NET(name) __attribute__((import_module("host_net"), import_name(name)))
NET("net_socket") uint32_t net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);
NET("net_bind") uint32_t net_bind(uint32_t fd, const uint8_t *addr, uint32_t addr_len);
NET("net_sendto") uint32_t net_sendto(uint32_t fd, const uint8_t *buf, uint32_t len, uint32_t flags,
                                      const uint8_t *addr, uint32_t addr_len, uint32_t *ret_sent);
NET("net_recvfrom") uint32_t net_recvfrom(uint32_t fd, uint8_t *buf, uint32_t len, uint32_t flags,
                                          uint32_t *ret_received, uint8_t *ret_addr, uint32_t *ret_addr_len);

#define AF_INET_WASI 1
#define SOCK_DGRAM_WASI 5

static void fail(const char *step, uint32_t err) {
    printf("error %s errno=%u\n", step, err);
    fflush(stdout);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: udp_echo server PORT COUNT | client PORT MESSAGE\n");
        return 64;
    }
    uint32_t fd, err, n;
    char addr[64];
    int alen = snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[2]);
    uint8_t buf[2048], from[128];
    uint32_t flen;
    if ((err = net_socket(AF_INET_WASI, SOCK_DGRAM_WASI, 0, &fd))) fail("socket", err);
    if (strcmp(argv[1], "server") == 0) {
        if ((err = net_bind(fd, (const uint8_t *)addr, (uint32_t)alen))) fail("bind", err);
        printf("bound\n");
        fflush(stdout);
        for (int i = atoi(argv[3]); i > 0; i--) {
            flen = sizeof from;
            if ((err = net_recvfrom(fd, buf, sizeof buf, 0, &n, from, &flen))) fail("recvfrom", err);
            uint32_t sent;
            if ((err = net_sendto(fd, buf, n, 0, from, flen, &sent))) fail("sendto", err);
        }
        return 0;
    }
    const char *msg = argv[3];
    if ((err = net_sendto(fd, (const uint8_t *)msg, (uint32_t)strlen(msg), 0, (const uint8_t *)addr, (uint32_t)alen, &n)))
        fail("sendto", err);
    flen = sizeof from - 1;
    if ((err = net_recvfrom(fd, buf, sizeof buf - 1, 0, &n, from, &flen))) fail("recvfrom", err);
    buf[n] = 0;
    from[flen] = 0;
    printf("reply %s from %s\n", (char *)buf, (char *)from);
    return 0;
}
