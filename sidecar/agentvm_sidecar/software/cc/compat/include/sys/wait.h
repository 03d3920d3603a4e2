/* agentvm compat: <sys/wait.h>, which wasi-libc lacks (src/process.c). Status words
   use the Linux layout: exit code in bits 8..15, terminating signal in bits 0..6. */
#ifndef AGENTVM_COMPAT_SYS_WAIT_H
#define AGENTVM_COMPAT_SYS_WAIT_H

#include <sys/types.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WNOHANG    1
#define WUNTRACED  2  /* accepted; no process is ever stopped */
#define WCONTINUED 8  /* accepted; as above */

#ifndef WEXITSTATUS  /* <stdlib.h> defines these too */
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#define WTERMSIG(s) ((s) & 0x7f)
#define WSTOPSIG(s) WEXITSTATUS(s)
#define WIFEXITED(s) (!WTERMSIG(s))
#define WIFSTOPPED(s) ((short)((((s)&0xffff)*0x10001U)>>8) > 0x7f00)
#define WIFSIGNALED(s) (((s)&0xffff)-1U < 0xffu)
#endif
#ifndef WCOREDUMP
#define WCOREDUMP(s) ((s) & 0x80)
#endif
#ifndef WIFCONTINUED
#define WIFCONTINUED(s) ((s) == 0xffff)
#endif

pid_t wait(int *);
pid_t waitpid(pid_t, int *, int);

#ifdef __cplusplus
}
#endif
#endif
