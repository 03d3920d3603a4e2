/* BSD sockets over the agentOS host_net imports (host_net.h).

   The kernel owns every socket: the fd table, VM loopback, the egress policy and
   TLS all live in the sidecar. This file only turns struct sockaddr into the
   ABI's address text and back, and WASI errnos into -1 and errno, the way the
   agentOS libc's socket patch calls the same imports. read(), write(), close(),
   fcntl(F_SETFL, O_NONBLOCK) and shutdown() on a socket stay wasi-libc's: the
   kernel serves the WASI fd_* and sock_shutdown calls on sockets as well.

   connect() blocks until the connection is made or refused, even on a
   non-blocking socket (the sidecar connects outbound connections itself, bounded
   in time), so it never answers EINPROGRESS; programs that handle both (curl)
   take the immediate answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentvm_tls.h"
#include "host_net.h"
#include "host_process.h"
#include "net_address.h"

static int fail(uint32_t err) {
	errno = (int)err;
	return -1;
}

/* net_send/net_recv answer EBADF for any fd that is not a socket (the agentOS
   libc's read()/write() probe relies on it); POSIX wants ENOTSOCK for an open fd. */
static int fail_io(int fd, uint32_t err) {
	if (err == EBADF && fcntl(fd, F_GETFD) >= 0) err = ENOTSOCK;
	return fail(err);
}

int __agentvm_address_text(const struct sockaddr *addr, socklen_t len, char text[AGENTVM_ADDRESS_TEXT]) {
	char ip[INET6_ADDRSTRLEN];
	if (addr == NULL) return fail(EINVAL);
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		if (len < (socklen_t)sizeof *in) return fail(EINVAL);
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		return snprintf(text, AGENTVM_ADDRESS_TEXT, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		if (len < (socklen_t)sizeof *in6) return fail(EINVAL);
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		return snprintf(text, AGENTVM_ADDRESS_TEXT, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
	}
	return fail(EAFNOSUPPORT);
}

int __agentvm_address_parse(const char *text, struct sockaddr *addr, socklen_t *len) {
	char ip[INET6_ADDRSTRLEN];
	const char *colon = strrchr(text, ':');
	const char *start = text, *end = colon;
	if (colon == NULL) return fail(EINVAL);
	if (text[0] == '[') {
		start = text + 1;
		end = colon > text && colon[-1] == ']' ? colon - 1 : NULL;
		if (end == NULL) return fail(EINVAL);
	}
	if (end - start <= 0 || (size_t)(end - start) >= sizeof ip) return fail(EINVAL);
	memcpy(ip, start, (size_t)(end - start));
	ip[end - start] = '\0';
	unsigned long port = 0;
	const char *p = colon + 1;
	if (*p == '\0') return fail(EINVAL);
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned long)(*p - '0')) > 65535) return fail(EINVAL);
	}
	struct sockaddr_storage parsed;
	socklen_t size;
	memset(&parsed, 0, sizeof parsed);
	struct sockaddr_in *in = (struct sockaddr_in *)&parsed;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&parsed;
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		size = sizeof *in;
	} else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		size = sizeof *in6;
	} else {
		return fail(EINVAL);
	}
	if (addr != NULL && len != NULL) {
		memcpy(addr, &parsed, *len < size ? *len : size);
		*len = size;
	}
	return 0;
}

int socket(int domain, int type, int protocol) {
	uint32_t fd;
	uint32_t err = __agentvm_net_socket((uint32_t)domain, (uint32_t)type, (uint32_t)protocol, &fd);
	return err ? fail(err) : (int)fd;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
	char text[AGENTVM_ADDRESS_TEXT];
	int n = __agentvm_address_text(addr, len, text);
	if (n < 0) return -1;
	uint32_t err = __agentvm_net_connect((uint32_t)fd, text, (uint32_t)n);
	return err ? fail(err) : 0;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
	char text[AGENTVM_ADDRESS_TEXT];
	int n = __agentvm_address_text(addr, len, text);
	if (n < 0) return -1;
	uint32_t err = __agentvm_net_bind((uint32_t)fd, text, (uint32_t)n);
	return err ? fail(err) : 0;
}

int listen(int fd, int backlog) {
	uint32_t err = __agentvm_net_listen((uint32_t)fd, backlog < 0 ? 0 : (uint32_t)backlog);
	return err ? fail(err) : 0;
}

int accept4(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len, int flags) {
	char peer[AGENTVM_ADDRESS_TEXT];
	uint32_t peer_len = sizeof peer - 1;
	uint32_t new_fd;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(EINVAL);
	uint32_t err = __agentvm_net_accept((uint32_t)fd, &new_fd, peer, &peer_len);
	if (err) return fail(err);
	if ((flags & SOCK_NONBLOCK) && fcntl((int)new_fd, F_SETFL, O_NONBLOCK) < 0) err = (uint32_t)errno;
	if (!err && (flags & SOCK_CLOEXEC)) err = __agentvm_fd_setfd((int32_t)new_fd, FD_CLOEXEC);
	if (err) {
		close((int)new_fd);
		return fail(err);
	}
	peer[peer_len] = '\0';
	if (addr != NULL && len != NULL && __agentvm_address_parse(peer, addr, len) < 0) *len = 0;
	return (int)new_fd;
}

int accept(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) {
	return accept4(fd, addr, len, 0);
}

/* The kernel has no MSG_PEEK: refusing it beats handing the caller data it
   believes is still queued. */
static int check_recv_flags(int flags) {
	return flags & MSG_PEEK ? fail(EOPNOTSUPP) : 0;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
	uint32_t sent;
	uint32_t err = __agentvm_net_send((uint32_t)fd, buf, (uint32_t)len, (uint32_t)flags, &sent);
	return err ? fail_io(fd, err) : (ssize_t)sent;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
	size_t done = 0;
	if (check_recv_flags(flags) < 0) return -1;
	do {
		uint32_t got;
		uint32_t err = __agentvm_net_recv((uint32_t)fd, (char *)buf + done, (uint32_t)(len - done),
			(uint32_t)(flags & ~MSG_WAITALL), &got);
		if (err) return done ? (ssize_t)done : fail_io(fd, err);
		if (got == 0) break;  /* end of stream */
		done += got;
	} while ((flags & MSG_WAITALL) && done < len);
	return (ssize_t)done;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t addr_len) {
	char text[AGENTVM_ADDRESS_TEXT];
	uint32_t sent;
	if (addr == NULL) return send(fd, buf, len, flags);
	int n = __agentvm_address_text(addr, addr_len, text);
	if (n < 0) return -1;
	uint32_t err = __agentvm_net_sendto((uint32_t)fd, buf, (uint32_t)len, (uint32_t)flags, text, (uint32_t)n, &sent);
	return err ? fail(err) : (ssize_t)sent;
}

ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags, struct sockaddr *__restrict addr,
		socklen_t *__restrict addr_len) {
	char sender[AGENTVM_ADDRESS_TEXT];
	uint32_t sender_len = sizeof sender - 1;
	uint32_t got;
	if (addr == NULL) return recv(fd, buf, len, flags);
	if (check_recv_flags(flags) < 0) return -1;
	uint32_t err = __agentvm_net_recvfrom((uint32_t)fd, buf, (uint32_t)len, (uint32_t)flags, &got, sender,
		&sender_len);
	if (err) return fail(err);
	sender[sender_len] = '\0';
	if (addr_len != NULL && __agentvm_address_parse(sender, addr, addr_len) < 0) *addr_len = 0;
	return (ssize_t)got;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
	uint32_t err = __agentvm_net_setsockopt((uint32_t)fd, (uint32_t)level, (uint32_t)name, value, (uint32_t)len);
	return err ? fail(err) : 0;
}

int getsockopt(int fd, int level, int name, void *__restrict value, socklen_t *__restrict len) {
	if (value == NULL || len == NULL) return fail(EFAULT);
	uint32_t n = (uint32_t)*len;
	uint32_t err = __agentvm_net_getsockopt((uint32_t)fd, (uint32_t)level, (uint32_t)name, value, &n);
	if (err) return fail(err);
	*len = (socklen_t)n;
	return 0;
}

typedef uint32_t (*name_call)(uint32_t, char *, uint32_t *);

static int socket_name(name_call call, int fd, struct sockaddr *addr, socklen_t *len) {
	char text[AGENTVM_ADDRESS_TEXT];
	uint32_t n = sizeof text - 1;
	if (addr == NULL || len == NULL) return fail(EFAULT);
	uint32_t err = call((uint32_t)fd, text, &n);
	if (err) return fail(err);
	text[n] = '\0';
	return __agentvm_address_parse(text, addr, len);
}

int getsockname(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) {
	return socket_name(__agentvm_net_getsockname, fd, addr, len);
}

int getpeername(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) {
	return socket_name(__agentvm_net_getpeername, fd, addr, len);
}

int agentvm_tls_connect(int fd, const char *server_name, int insecure) {
	const char *name = server_name ? server_name : "";
	uint32_t err = __agentvm_net_tls_connect((uint32_t)fd, name, (uint32_t)strlen(name), insecure ? 1 : 0);
	return err ? fail(err) : 0;
}
