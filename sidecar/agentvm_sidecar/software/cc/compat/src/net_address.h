/* Socket addresses as the host_net ABI spells them (text) and as C programs
   hold them (struct sockaddr), shared by net.c and resolve.c. */
#ifndef AGENTVM_COMPAT_NET_ADDRESS_H
#define AGENTVM_COMPAT_NET_ADDRESS_H

#include <sys/socket.h>

/* room for "[v6]:port" and the ABI's longest answer */
#define AGENTVM_ADDRESS_TEXT 128

/* "ip:port" or "[v6]:port" for an AF_INET/AF_INET6 address; the text's length,
   or -1 with errno EAFNOSUPPORT (another family) or EINVAL (too short). */
int __agentvm_address_text(const struct sockaddr *addr, socklen_t len, char text[AGENTVM_ADDRESS_TEXT]);

/* Parse the ABI's "ip:port" (bare or bracketed IPv6) into addr, cut to *len
   bytes as POSIX accept()/getsockname() do; *len becomes the full size.
   Returns 0, or -1 with errno EINVAL. */
int __agentvm_address_parse(const char *text, struct sockaddr *addr, socklen_t *len);

#endif
