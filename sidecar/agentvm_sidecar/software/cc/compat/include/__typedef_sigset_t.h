/* agentvm compat: a sigset_t that holds every Linux signal 1..64.

   wasi-libc's own placeholder is one unsigned char, too small for SIGCHLD (17) or
   SIGTERM (15); the host ABI (host_process.proc_signal_mask_v2, proc_spawn_v3)
   carries 64-bit sets as two u32 halves, signal s <-> bit s-1. Found before the
   libc's header because our include directory comes first (agentvm-cc -isystem). */
#ifndef __wasilibc___typedef_sigset_t_h
#define __wasilibc___typedef_sigset_t_h

typedef struct __sigset_t { unsigned long long __bits; } sigset_t;

#endif
