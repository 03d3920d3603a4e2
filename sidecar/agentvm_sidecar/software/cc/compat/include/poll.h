/* agentvm compat: wasi-libc's <poll.h> plus the event bits it leaves out, which
   programs like curl name. The kernel's net_poll (src/net.c routes poll() there)
   answers POLLIN/POLLOUT/POLLERR/POLLHUP/POLLNVAL and never sets these. */
#include_next <poll.h>

#ifndef AGENTVM_COMPAT_POLL_H
#define AGENTVM_COMPAT_POLL_H
#ifndef POLLPRI
#define POLLPRI 0x0008
#endif
#ifndef POLLRDBAND
#define POLLRDBAND 0x0010
#endif
#ifndef POLLWRBAND
#define POLLWRBAND 0x0020
#endif
#ifndef POLLRDHUP
#define POLLRDHUP 0x0080
#endif
#endif
