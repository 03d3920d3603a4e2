/* The agentOS host_process imports as agentvm's kernel serves them
   (sidecar/agentvm_sidecar/wasm/host/process.py has the host side and its rules).
   Each returns a WASI errno, which is also wasi-libc's errno numbering, and
   writes its results through out-pointers. Signal numbers, O_* flags in spawn
   actions and WNOHANG use Linux numbering. */
#ifndef AGENTVM_COMPAT_HOST_PROCESS_H
#define AGENTVM_COMPAT_HOST_PROCESS_H

#include <stdint.h>

#define AGENTVM_HOST_PROCESS(name) \
	__attribute__((import_module("host_process"), import_name(#name)))

AGENTVM_HOST_PROCESS(proc_spawn_v3)
uint32_t __agentvm_proc_spawn(
	const char *exec, uint32_t exec_len, const char *argv, uint32_t argv_len,
	const char *envp, uint32_t envp_len, const unsigned char *actions, uint32_t actions_len,
	const char *cwd, uint32_t cwd_len, uint32_t attr_flags,
	uint32_t sigdef_lo, uint32_t sigdef_hi, uint32_t sigmask_lo, uint32_t sigmask_hi,
	int32_t pgroup, uint32_t *ret_pid);

AGENTVM_HOST_PROCESS(proc_waitpid_v2)
uint32_t __agentvm_proc_waitpid(int32_t pid, uint32_t options, uint32_t *ret_exit,
	uint32_t *ret_signal, uint32_t *ret_pid, uint32_t *ret_core);

AGENTVM_HOST_PROCESS(proc_kill)
uint32_t __agentvm_proc_kill(int32_t pid, int32_t sig);

AGENTVM_HOST_PROCESS(proc_getpid)
uint32_t __agentvm_proc_getpid(uint32_t *ret_pid);

AGENTVM_HOST_PROCESS(proc_getppid)
uint32_t __agentvm_proc_getppid(uint32_t *ret_pid);

/* how: 0 BLOCK, 1 UNBLOCK, 2 SETMASK, 3 query; writes the old mask */
AGENTVM_HOST_PROCESS(proc_signal_mask_v2)
uint32_t __agentvm_proc_signal_mask(uint32_t how, uint32_t set_lo, uint32_t set_hi,
	uint32_t *ret_lo, uint32_t *ret_hi);

AGENTVM_HOST_PROCESS(proc_exec)
uint32_t __agentvm_proc_exec(const char *exec, uint32_t exec_len, const char *argv,
	uint32_t argv_len, const char *envp, uint32_t envp_len, const uint32_t *cloexec_fds,
	uint32_t cloexec_count);

AGENTVM_HOST_PROCESS(fd_pipe)
uint32_t __agentvm_fd_pipe(uint32_t *ret_read, uint32_t *ret_write);

AGENTVM_HOST_PROCESS(fd_dup)
uint32_t __agentvm_fd_dup(int32_t fd, uint32_t *ret_fd);

AGENTVM_HOST_PROCESS(fd_dup2)
uint32_t __agentvm_fd_dup2(int32_t old_fd, int32_t new_fd);

AGENTVM_HOST_PROCESS(fd_setfd)
uint32_t __agentvm_fd_setfd(int32_t fd, uint32_t flags);

/* writes the old mask; sets it when set is non-zero */
AGENTVM_HOST_PROCESS(umask)
uint32_t __agentvm_umask(uint32_t mask, uint32_t set, uint32_t *ret_old);

#define AGENTVM_SPAWN_SIGMASK_QUERY 3

/* Shared by spawn.c and exec.c: a NUL-terminated string vector in one buffer
   ("a\0b\0"), malloc'd; NULL with errno ENOMEM. */
char *__agentvm_join_strings(char *const *strings, uint32_t *len);

/* FD_CLOEXEC in the kernel and in the table F_GETFD reads (src/open.c);
   -1 with errno on failure. note_ only records what the kernel already has. */
int __agentvm_set_cloexec(int fd, int on);
void __agentvm_note_cloexec(int fd, int on);

/* The cwd to give a child: "" (the kernel's cwd for this process) unless the
   program changed directory with chdir() (src/cwd.c). */
const char *__agentvm_child_cwd(void);

#endif
