/* A BSD-sockets program built with agentvm-cc, for the compat library's socket
 * tests (tests/cc/test_net_sockets.py). Only the POSIX API: no host_net import
 * appears here, the compat library makes every one.
 *
 *   net_tool serve PORT COUNT        HTTP/1.0 server: COUNT requests, then exit
 *   net_tool get [--tls] [--insecure] HOST PORT PATH
 *                                    GET, print the whole response
 *   net_tool resolve HOST [4|6]      print getaddrinfo's numeric addresses
 *   net_tool selftest                every other call, one "ok <check>" a line
 *
 * Failures print "error <step> errno=<n>" (getaddrinfo: "gai=<n> errno=<n>")
 * with wasi-libc's errno numbers, and exit 2.
 */
#include <agentvm_tls.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static const char VM_BODY[] = "hello from the vm\n";

static void fail(const char *step) {
	printf("error %s errno=%d\n", step, errno);
	fflush(stdout);
	exit(2);
}

static void check(int ok, const char *what) {
	if (!ok) {
		printf("FAILED %s errno=%d\n", what, errno);
		fflush(stdout);
		exit(3);
	}
	printf("ok %s\n", what);
}

static struct addrinfo *resolve(const char *host, const char *port, int family, int flags) {
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = flags};
	struct addrinfo *found;
	int rc = getaddrinfo(host, port, &hints, &found);
	if (rc != 0) {
		printf("error getaddrinfo gai=%d errno=%d\n", rc, rc == EAI_SYSTEM ? errno : 0);
		fflush(stdout);
		exit(2);
	}
	return found;
}

/* read until the peer closes, waiting with poll() */
static size_t read_all(int fd, char *buf, size_t cap) {
	size_t n = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 30000) < 0) fail("poll");
		ssize_t got = recv(fd, buf + n, cap - n, 0);
		if (got < 0) fail("recv");
		if (got == 0 || (n += (size_t)got) == cap) return n;
	}
}

static int serve(const char *port, int count) {
	struct addrinfo *any = resolve(NULL, port, AF_INET, AI_PASSIVE);
	int s = socket(any->ai_family, any->ai_socktype, any->ai_protocol);
	int one = 1;
	if (s < 0) fail("socket");
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) fail("setsockopt");
	if (bind(s, any->ai_addr, any->ai_addrlen) < 0) fail("bind");
	if (listen(s, 8) < 0) fail("listen");
	freeaddrinfo(any);
	for (int i = 0; i < count; i++) {
		int c = accept(s, NULL, NULL);
		char request[4096];
		size_t n = 0;
		if (c < 0) fail("accept");
		while (n < sizeof request - 1) {
			ssize_t got = recv(c, request + n, sizeof request - 1 - n, 0);
			if (got <= 0) break;
			n += (size_t)got;
			request[n] = '\0';
			if (strstr(request, "\r\n\r\n")) break;
		}
		char reply[256];
		int len = snprintf(reply, sizeof reply, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			strlen(VM_BODY), VM_BODY);
		if (send(c, reply, (size_t)len, MSG_NOSIGNAL) != len) fail("send");
		shutdown(c, SHUT_WR);
		close(c);
	}
	close(s);
	return 0;
}

static int get(int argc, char **argv) {
	int tls = 0, insecure = 0, i = 0;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		tls |= strcmp(argv[i], "--tls") == 0;
		insecure |= strcmp(argv[i], "--insecure") == 0;
	}
	if (argc - i != 3) return 64;
	const char *host = argv[i], *port = argv[i + 1], *path = argv[i + 2];
	struct addrinfo *found = resolve(host, port, AF_UNSPEC, 0);
	int s = -1;
	for (struct addrinfo *ai = found; ai && s < 0; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (s < 0) fail("socket");
		if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
			int err = errno;
			close(s);
			s = -1;
			errno = err;
		}
	}
	freeaddrinfo(found);
	if (s < 0) fail("connect");
	int one = 1;
	if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) fail("setsockopt");
	if (tls && agentvm_tls_connect(s, host, insecure) < 0) fail("tls");
	char request[1024];
	int len = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
	if (send(s, request, (size_t)len, 0) != len) fail("send");
	static char response[1 << 16];
	size_t n = read_all(s, response, sizeof response);
	fwrite(response, 1, n, stdout);
	close(s);
	return 0;
}

static int print_addresses(const char *host, const char *family) {
	int f = family == NULL ? AF_UNSPEC : strcmp(family, "6") == 0 ? AF_INET6 : AF_INET;
	struct addrinfo *found = resolve(host, "80", f, 0);
	for (struct addrinfo *ai = found; ai; ai = ai->ai_next) {
		char text[NI_MAXHOST], port[NI_MAXSERV];
		int rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, port, sizeof port, NI_NUMERICHOST);
		if (rc != 0) return printf("error getnameinfo gai=%d\n", rc), 2;
		printf("%s %s %s\n", ai->ai_family == AF_INET ? "4" : "6", text, port);
	}
	freeaddrinfo(found);
	return 0;
}

static int ready(int fd, short events, int timeout) {
	struct pollfd p = {.fd = fd, .events = events};
	int n = poll(&p, 1, timeout);
	return n < 0 ? -1 : p.revents;
}

static int selftest(void) {
	/* a listener on an ephemeral VM-loopback port */
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	int server = socket(AF_INET, SOCK_STREAM, 0);
	check(server >= 0, "socket");
	check(bind(server, (struct sockaddr *)&addr, sizeof addr) == 0, "bind port 0");
	socklen_t len = sizeof addr;
	check(getsockname(server, (struct sockaddr *)&addr, &len) == 0 && addr.sin_port != 0, "getsockname port");
	check(listen(server, 4) == 0, "listen");
	check(ready(server, POLLIN, 0) == 0, "poll idle listener");

	int client = socket(AF_INET, SOCK_STREAM, 0);
	check(fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) == 0, "fcntl O_NONBLOCK");
	check(connect(client, (struct sockaddr *)&addr, sizeof addr) == 0, "connect");
	int err = -1;
	len = sizeof err;
	check(getsockopt(client, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR");
	int type = 0;
	len = sizeof type;
	check(getsockopt(client, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM, "SO_TYPE");
	check(ready(server, POLLIN, 5000) & POLLIN, "poll listener readable");

	struct sockaddr_in peer;
	len = sizeof peer;
	int conn = accept4(server, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK);
	check(conn >= 0 && peer.sin_family == AF_INET, "accept4");
	struct sockaddr_in local;
	len = sizeof local;
	check(getpeername(client, (struct sockaddr *)&local, &len) == 0 && local.sin_port == addr.sin_port,
		"getpeername");
	len = sizeof local;
	check(getsockname(client, (struct sockaddr *)&local, &len) == 0 && local.sin_port == peer.sin_port,
		"getsockname matches accept's peer");

	char buf[16];
	check(recv(conn, buf, sizeof buf, 0) < 0 && errno == EAGAIN, "nonblocking recv EAGAIN");
	check(ready(conn, POLLIN, 0) == 0, "poll empty socket");
	check(ready(client, POLLOUT, 0) & POLLOUT, "poll writable");
	check(send(client, "ping", 4, 0) == 4, "send");
	check(ready(conn, POLLIN, 5000) & POLLIN, "poll readable");
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(conn, &rd);
	FD_SET(client, &wr);
	struct timeval tv = {.tv_sec = 5};
	int nfds = (conn > client ? conn : client) + 1;
	check(select(nfds, &rd, &wr, NULL, &tv) == 2 && FD_ISSET(conn, &rd) && FD_ISSET(client, &wr), "select");
	check(recv(conn, buf, sizeof buf, MSG_PEEK) < 0 && errno == EOPNOTSUPP, "MSG_PEEK refused");
	check(recv(conn, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0, "recv");
	check(shutdown(client, SHUT_WR) == 0, "shutdown");
	check(ready(conn, POLLIN, 5000) & (POLLIN | POLLHUP), "poll sees end of stream");
	check(recv(conn, buf, sizeof buf, 0) == 0, "recv end of stream");

	int blocking = socket(AF_INET, SOCK_STREAM, 0);
	check(connect(blocking, (struct sockaddr *)&addr, sizeof addr) == 0, "second connect");
	int accepted = accept(server, NULL, NULL);
	struct timeval short_wait = {.tv_sec = 0, .tv_usec = 100000};
	check(setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait) == 0, "SO_RCVTIMEO");
	check(recv(accepted, buf, sizeof buf, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "recv timeout");

	int pipefd[2];
	check(pipe(pipefd) == 0, "pipe");
	check(ready(pipefd[0], POLLIN, 0) == 0, "poll empty pipe");
	check(write(pipefd[1], "x", 1) == 1 && (ready(pipefd[0], POLLIN, 0) & POLLIN), "poll pipe readable");
	check(send(pipefd[1], "x", 1, 0) < 0 && errno == ENOTSOCK, "send on a pipe ENOTSOCK");
	close(pipefd[1]);
	check(read(pipefd[0], buf, 1) == 1 && (ready(pipefd[0], POLLIN, 0) & POLLHUP), "poll pipe hang-up");
	check(ready(1000, POLLIN, 0) & POLLNVAL, "poll closed fd POLLNVAL");
	FD_ZERO(&rd);
	FD_SET(pipefd[0], &rd);
	tv.tv_sec = 0;
	check(select(pipefd[0] + 1, &rd, NULL, NULL, &tv) == 1, "select pipe at end of file");

	close(conn);
	close(client);
	close(blocking);
	close(accepted);
	close(server);
	check(connect(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&addr, sizeof addr) < 0 &&
		errno == ECONNREFUSED, "connect to a closed port ECONNREFUSED");
	check(socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT, "AF_UNIX EAFNOSUPPORT");

	/* datagrams: sendto an address, recvfrom names the sender */
	struct sockaddr_in to = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	int receiver = socket(AF_INET, SOCK_DGRAM, 0), sender = socket(AF_INET, SOCK_DGRAM, 0);
	len = sizeof to;
	check(bind(receiver, (struct sockaddr *)&to, sizeof to) == 0 &&
		getsockname(receiver, (struct sockaddr *)&to, &len) == 0 && to.sin_port != 0, "udp bind");
	check(sendto(sender, "dgram", 5, 0, (struct sockaddr *)&to, sizeof to) == 5, "sendto");
	struct sockaddr_in from, sender_name;
	socklen_t from_len = sizeof from;
	len = sizeof sender_name;
	check(recvfrom(receiver, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len) == 5 &&
		memcmp(buf, "dgram", 5) == 0 && getsockname(sender, (struct sockaddr *)&sender_name, &len) == 0 &&
		from.sin_port == sender_name.sin_port, "recvfrom names the sender");
	close(receiver);
	close(sender);
	puts("selftest passed");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[1], "serve") == 0) return serve(argv[2], atoi(argv[3]));
	if (argc >= 2 && strcmp(argv[1], "get") == 0) return get(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "resolve") == 0) return print_addresses(argv[2], argc > 3 ? argv[3] : NULL);
	if (argc == 2 && strcmp(argv[1], "selftest") == 0) return selftest();
	fprintf(stderr, "usage: net_tool serve|get|resolve|selftest ...\n");
	return 64;
}
