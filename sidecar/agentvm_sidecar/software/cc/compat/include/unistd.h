/* agentvm compat: wasi-libc's <unistd.h> plus the process and descriptor calls its
   WASI build leaves out, served by agentvm's kernel over the agentOS host_process
   imports (see src/). fork() and vfork() stay undeclared on purpose: a wasm
   instance cannot be duplicated, and a configure script that finds no fork picks
   posix_spawn instead.

   Our declarations come before wasi-libc's header: a gnulib wrapper further down
   the include path may `#define dup2 rpl_dup2`, and must not rename ours. */
#ifndef _WASI_EMULATED_GETPID
#define _WASI_EMULATED_GETPID 1  /* getpid() is ours (proc_getpid), not the emulation */
#endif

#ifndef AGENTVM_COMPAT_UNISTD_H
#define AGENTVM_COMPAT_UNISTD_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

int pipe(int [2]);
int pipe2(int [2], int);
int dup(int);
int dup2(int, int);
int dup3(int, int, int);
pid_t getppid(void);
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int getgroups(int, gid_t []);
int chown(const char *, uid_t, gid_t);
int lchown(const char *, uid_t, gid_t);
int fchownat(int, const char *, uid_t, gid_t, int);

int execve(const char *, char *const [], char *const []);
int execv(const char *, char *const []);
int execvp(const char *, char *const []);
int execvpe(const char *, char *const [], char *const []);
int execl(const char *, const char *, ...);
int execlp(const char *, const char *, ...);
int execle(const char *, const char *, ...);

#ifdef __cplusplus
}
#endif
#endif

#include_next <unistd.h>
