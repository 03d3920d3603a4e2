/* The agentOS host_net imports as agentvm's kernel serves them
   (sidecar/agentvm_sidecar/wasm/host/net.py has the host side and its rules).
   Each returns a WASI errno (wasi-libc's errno numbering) and writes results
   through out-pointers; a length passed by pointer is in/out: the buffer's
   capacity in, the bytes written out. Addresses travel as text, "ip:port" or
   "[v6]:port" in, "ip:port" with a bare IPv6 address out. */
#ifndef AGENTVM_COMPAT_HOST_NET_H
#define AGENTVM_COMPAT_HOST_NET_H

#include <stdint.h>

#define AGENTVM_HOST_NET(name) __attribute__((import_module("host_net"), import_name(#name)))

AGENTVM_HOST_NET(net_socket)
uint32_t __agentvm_net_socket(uint32_t domain, uint32_t type, uint32_t protocol, uint32_t *ret_fd);

AGENTVM_HOST_NET(net_connect)
uint32_t __agentvm_net_connect(uint32_t fd, const char *addr, uint32_t addr_len);

AGENTVM_HOST_NET(net_bind)
uint32_t __agentvm_net_bind(uint32_t fd, const char *addr, uint32_t addr_len);

AGENTVM_HOST_NET(net_listen)
uint32_t __agentvm_net_listen(uint32_t fd, uint32_t backlog);

AGENTVM_HOST_NET(net_accept)
uint32_t __agentvm_net_accept(uint32_t fd, uint32_t *ret_fd, char *ret_addr, uint32_t *ret_addr_len);

AGENTVM_HOST_NET(net_send)
uint32_t __agentvm_net_send(uint32_t fd, const void *buf, uint32_t len, uint32_t flags, uint32_t *ret_sent);

AGENTVM_HOST_NET(net_recv)
uint32_t __agentvm_net_recv(uint32_t fd, void *buf, uint32_t len, uint32_t flags, uint32_t *ret_received);

AGENTVM_HOST_NET(net_sendto)
uint32_t __agentvm_net_sendto(uint32_t fd, const void *buf, uint32_t len, uint32_t flags, const char *addr,
	uint32_t addr_len, uint32_t *ret_sent);

AGENTVM_HOST_NET(net_recvfrom)
uint32_t __agentvm_net_recvfrom(uint32_t fd, void *buf, uint32_t len, uint32_t flags, uint32_t *ret_received,
	char *ret_addr, uint32_t *ret_addr_len);

/* the 6-argument form of the agentOS libc: the family filter is ours (net.c) */
AGENTVM_HOST_NET(net_getaddrinfo)
uint32_t __agentvm_net_getaddrinfo(const char *host, uint32_t host_len, const char *port, uint32_t port_len,
	char *ret_json, uint32_t *ret_len);

/* the 4-argument form curl imports: insecure skips certificate verification */
AGENTVM_HOST_NET(net_tls_connect)
uint32_t __agentvm_net_tls_connect(uint32_t fd, const char *server_name, uint32_t name_len, uint32_t insecure);

AGENTVM_HOST_NET(net_setsockopt)
uint32_t __agentvm_net_setsockopt(uint32_t fd, uint32_t level, uint32_t name, const void *value, uint32_t len);

AGENTVM_HOST_NET(net_getsockopt)
uint32_t __agentvm_net_getsockopt(uint32_t fd, uint32_t level, uint32_t name, void *value, uint32_t *len);

AGENTVM_HOST_NET(net_getsockname)
uint32_t __agentvm_net_getsockname(uint32_t fd, char *ret_addr, uint32_t *ret_addr_len);

AGENTVM_HOST_NET(net_getpeername)
uint32_t __agentvm_net_getpeername(uint32_t fd, char *ret_addr, uint32_t *ret_addr_len);

/* pollfd = {i32 fd, i16 events, i16 revents}: wasi-libc's struct pollfd */
AGENTVM_HOST_NET(net_poll)
uint32_t __agentvm_net_poll(void *fds, uint32_t nfds, int32_t timeout_ms, uint32_t *ret_ready);

#endif
