/* getaddrinfo() and friends. Names go to the kernel (host_net net_getaddrinfo),
   which resolves them as the VM's network policy allows: names of the outside
   world come back as synthetic addresses that a later connect() maps to the
   name, so the policy sees both. IP literals and the wildcard/loopback answers
   of a NULL host are made here without a host call, as a libc does.

   The kernel answers JSON: [{"addr":"198.18.0.1","family":4},...], compact,
   with addresses that never hold a quote, which the small scanner below relies on.
   Only numeric services and the two this toolbox needs by name (http, https):
   a VM has no services database. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_net.h"

#define MAX_ADDRESSES 16
#define ANSWER_BYTES 4096

struct address {
	int family;
	unsigned char bytes[16];
};

/* one block per entry: the addrinfo, its address and (first entry) the name */
struct entry {
	struct addrinfo info;
	struct sockaddr_storage storage;
};

static int service_port(const char *service, int flags, int *port) {
	static const struct { const char *name; int port; } known[] = {{"http", 80}, {"https", 443}};
	*port = 0;
	if (service == NULL || *service == '\0') return 0;
	char *end;
	long value = strtol(service, &end, 10);
	if (*end == '\0') {
		if (value < 0 || value > 65535) return EAI_SERVICE;
		*port = (int)value;
		return 0;
	}
	if (flags & AI_NUMERICSERV) return EAI_NONAME;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (strcmp(service, known[i].name) == 0) {
			*port = known[i].port;
			return 0;
		}
	}
	return EAI_SERVICE;
}

static int literal(const char *host, struct address *out) {
	if (inet_pton(AF_INET, host, out->bytes) == 1) {
		out->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, host, out->bytes) == 1) {
		out->family = AF_INET6;
		return 1;
	}
	return 0;
}

static int gai_error(uint32_t err) {
	switch (err) {
	case ENOENT:
	case EINVAL:
		return EAI_NONAME;
	case EAFNOSUPPORT:
		return EAI_FAMILY;
	case ENOMEM:
		return EAI_MEMORY;
	default:
		errno = (int)err;  /* EACCES: the policy denied the name */
		return EAI_SYSTEM;
	}
}

/* Ask the kernel; fills out[] and returns the count, or an EAI_* error. */
static int kernel_lookup(const char *host, int port, struct address *out) {
	char port_text[8] = "";
	if (port) snprintf(port_text, sizeof port_text, "%d", port);  /* port-specific rules */
	char *answer = malloc(ANSWER_BYTES);
	if (answer == NULL) return EAI_MEMORY;
	uint32_t len = ANSWER_BYTES - 1;
	uint32_t err = __agentvm_net_getaddrinfo(host, (uint32_t)strlen(host), port_text, (uint32_t)strlen(port_text), answer,
		&len);
	if (err) {
		free(answer);
		return gai_error(err);
	}
	answer[len] = '\0';
	int count = 0;
	const char *p = answer;
	while (count < MAX_ADDRESSES && (p = strstr(p, "\"addr\":\"")) != NULL) {
		char text[INET6_ADDRSTRLEN];
		p += 8;
		const char *end = strchr(p, '"');
		if (end == NULL || (size_t)(end - p) >= sizeof text) break;
		memcpy(text, p, (size_t)(end - p));
		text[end - p] = '\0';
		p = end;
		if (literal(text, &out[count])) count++;
	}
	free(answer);
	return count ? count : EAI_FAIL;
}

static int local_answers(int flags, struct address *out) {
	static const unsigned char loopback6[16] = {[15] = 1};
	memset(out, 0, 2 * sizeof *out);
	out[0].family = AF_INET;
	out[1].family = AF_INET6;
	if (!(flags & AI_PASSIVE)) {
		const unsigned char loopback4[4] = {127, 0, 0, 1};
		memcpy(out[0].bytes, loopback4, 4);
		memcpy(out[1].bytes, loopback6, 16);
	}
	return 2;
}

static struct addrinfo *new_entry(const struct address *a, int port, int socktype, const char *canon) {
	size_t canon_len = canon ? strlen(canon) + 1 : 0;
	struct entry *e = calloc(1, sizeof *e + canon_len);
	if (e == NULL) return NULL;
	e->info.ai_family = a->family;
	e->info.ai_socktype = socktype;
	e->info.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
	e->info.ai_addr = (struct sockaddr *)&e->storage;
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&e->storage;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, a->bytes, 4);
		e->info.ai_addrlen = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&e->storage;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, a->bytes, 16);
		e->info.ai_addrlen = sizeof *in6;
	}
	if (canon) {
		e->info.ai_canonname = (char *)(e + 1);
		memcpy(e->info.ai_canonname, canon, canon_len);
	}
	return &e->info;
}

int getaddrinfo(const char *__restrict host, const char *__restrict service, const struct addrinfo *__restrict hints,
		struct addrinfo **__restrict res) {
	int flags = hints ? hints->ai_flags : 0;
	int family = hints ? hints->ai_family : AF_UNSPEC;
	int socktype = hints ? hints->ai_socktype : 0;
	struct address found[MAX_ADDRESSES];
	int count, port;
	if (host == NULL && service == NULL) return EAI_NONAME;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return EAI_FAMILY;
	if (socktype != 0 && socktype != SOCK_STREAM && socktype != SOCK_DGRAM) return EAI_SOCKTYPE;
	int error = service_port(service, flags, &port);
	if (error) return error;
	if (host == NULL) {
		count = local_answers(flags, found);
	} else if (literal(host, &found[0])) {
		count = 1;
	} else if (flags & AI_NUMERICHOST) {
		return EAI_NONAME;
	} else if ((count = kernel_lookup(host, port, found)) < 0) {
		return count;
	}
	static const int both[] = {SOCK_STREAM, SOCK_DGRAM};
	const int *types = socktype ? &socktype : both;
	int ntypes = socktype ? 1 : 2;
	struct addrinfo *head = NULL, **tail = &head;
	for (int i = 0; i < count; i++) {
		if (family != AF_UNSPEC && found[i].family != family) continue;
		for (int t = 0; t < ntypes; t++) {
			const char *canon = head == NULL && host != NULL && (flags & AI_CANONNAME) ? host : NULL;
			struct addrinfo *ai = new_entry(&found[i], port, types[t], canon);
			if (ai == NULL) {
				freeaddrinfo(head);
				return EAI_MEMORY;
			}
			*tail = ai;
			tail = &ai->ai_next;
		}
	}
	if (head == NULL) return EAI_NONAME;  /* no address of the family asked for */
	*res = head;
	return 0;
}

void freeaddrinfo(struct addrinfo *list) {
	while (list != NULL) {
		struct addrinfo *next = list->ai_next;
		free(list);  /* the entry block holds the address and the name */
		list = next;
	}
}

const char *gai_strerror(int error) {
	switch (error) {
	case 0: return "Success";
	case EAI_BADFLAGS: return "Invalid flags";
	case EAI_NONAME: return "Name does not resolve";
	case EAI_AGAIN: return "Try again";
	case EAI_FAIL: return "Non-recoverable error";
	case EAI_NODATA: return "Name has no usable address";
	case EAI_FAMILY: return "Unrecognized address family or invalid length";
	case EAI_SOCKTYPE: return "Unrecognized socket type";
	case EAI_SERVICE: return "Unrecognized service";
	case EAI_MEMORY: return "Out of memory";
	case EAI_SYSTEM: return "System error";
	case EAI_OVERFLOW: return "Overflow";
	default: return "Unknown error";
	}
}

/* Numeric answers only: a VM has no reverse DNS. */
int getnameinfo(const struct sockaddr *__restrict addr, socklen_t len, char *__restrict host, socklen_t host_len,
		char *__restrict serv, socklen_t serv_len, int flags) {
	const void *ip;
	int port;
	if (addr == NULL) return EAI_FAMILY;
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		ip = &((const struct sockaddr_in *)addr)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
	} else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		ip = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	} else {
		return EAI_FAMILY;
	}
	if (host != NULL && host_len > 0) {
		if (flags & NI_NAMEREQD) return EAI_NONAME;
		if (inet_ntop(addr->sa_family, ip, host, host_len) == NULL) return EAI_OVERFLOW;
	}
	if (serv != NULL && serv_len > 0 && snprintf(serv, serv_len, "%d", port) >= (int)serv_len) return EAI_OVERFLOW;
	return 0;
}
