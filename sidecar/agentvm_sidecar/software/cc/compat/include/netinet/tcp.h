/* agentvm compat: <netinet/tcp.h>, which wasi-libc lacks. Linux's numbers; the
   kernel accepts every IPPROTO_TCP option and ignores it (its connections are
   VM loopback or the sidecar's own host sockets). */
#ifndef AGENTVM_COMPAT_NETINET_TCP_H
#define AGENTVM_COMPAT_NETINET_TCP_H
#define TCP_NODELAY 1
#define TCP_MAXSEG 2
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#endif
