/* agentvm compat: wasi-libc's <sys/socket.h> plus the BSD socket calls its
   preview1 build leaves undeclared (socket, connect, bind, listen, names,
   sendto/recvfrom, setsockopt), implemented in src/net.c over the agentOS
   host_net imports, and the option and flag constants networking programs
   expect. Domain and type values stay wasi-libc's (AF_INET 1, SOCK_STREAM 6):
   the kernel accepts them and Linux's alike. */
#include_next <sys/socket.h>

#ifndef AGENTVM_COMPAT_SYS_SOCKET_H
#define AGENTVM_COMPAT_SYS_SOCKET_H

/* Linux's numbers, which the kernel reads (net_send/net_recv honour DONTWAIT;
   NOSIGNAL is what every send is: no SIGPIPE is ever raised for a socket). */
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0x0040
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0x4000
#endif

#ifndef SOL_IP
#define SOL_IP 0
#define SOL_TCP 6
#define SOL_UDP 17
#define SOL_IPV6 41
#endif
#ifndef SOMAXCONN
#define SOMAXCONN 128
#endif

#ifndef SO_REUSEADDR
#define SO_REUSEADDR 2
#endif
#ifndef SO_ERROR
#define SO_ERROR 4
#endif
#ifndef SO_DONTROUTE
#define SO_DONTROUTE 5
#endif
#ifndef SO_BROADCAST
#define SO_BROADCAST 6
#endif
#ifndef SO_SNDBUF
#define SO_SNDBUF 7
#endif
#ifndef SO_RCVBUF
#define SO_RCVBUF 8
#endif
#ifndef SO_KEEPALIVE
#define SO_KEEPALIVE 9
#endif
#ifndef SO_LINGER
#define SO_LINGER 13
#endif
#ifndef SO_REUSEPORT
#define SO_REUSEPORT 15
#endif
/* the 64-bit time_t numbers of a 32-bit long, as wasi-libc's preview2 headers */
#ifndef SO_RCVTIMEO
#define SO_RCVTIMEO 66
#define SO_SNDTIMEO 67
#endif

#ifdef __cplusplus
extern "C" {
#endif

int socket(int, int, int);
int connect(int, const struct sockaddr *, socklen_t);
int bind(int, const struct sockaddr *, socklen_t);
int listen(int, int);
int getsockname(int, struct sockaddr *__restrict, socklen_t *__restrict);
int getpeername(int, struct sockaddr *__restrict, socklen_t *__restrict);
ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
ssize_t recvfrom(int, void *__restrict, size_t, int, struct sockaddr *__restrict, socklen_t *__restrict);
int setsockopt(int, int, int, const void *, socklen_t);

#ifdef __cplusplus
}
#endif
#endif
