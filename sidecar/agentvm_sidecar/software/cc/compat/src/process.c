/* waitpid/wait, getpid/getppid, umask and the exec family over host_process.

   Exit statuses come back from the kernel as (exit code, terminating signal);
   they are packed into the Linux status word the W* macros of <sys/wait.h> read.
   WUNTRACED and WCONTINUED are accepted and mean nothing: no process is ever
   stopped. exec replaces the program in place (proc_exec); the kernel closes the
   FD_CLOEXEC fds itself and searches $PATH for a name without a slash, which is
   exactly execvp's search, so execv and execve make a bare name relative. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_process.h"

extern char **environ;

pid_t waitpid(pid_t pid, int *status, int options) {
	uint32_t code = 0, sig = 0, reaped = 0, core = 0;
	uint32_t err = __agentvm_proc_waitpid(pid, (uint32_t)options & WNOHANG, &code, &sig, &reaped, &core);
	if (err) {
		errno = (int)err;
		return -1;
	}
	if (status && reaped)
		*status = sig ? (int)((sig & 0x7f) | (core ? 0x80 : 0)) : (int)((code & 0xff) << 8);
	return (pid_t)reaped;
}

pid_t wait(int *status) {
	return waitpid(-1, status, 0);
}

pid_t getpid(void) {
	uint32_t pid = 0;
	__agentvm_proc_getpid(&pid);
	return (pid_t)pid;
}

pid_t getppid(void) {
	uint32_t pid = 0;
	__agentvm_proc_getppid(&pid);
	return (pid_t)pid;
}

mode_t umask(mode_t mask) {
	uint32_t old = 0;
	__agentvm_umask(mask & 0777, 1, &old);
	return (mode_t)old;
}

static int exec_as_given(const char *file, char *const argv[], char *const envp[]) {
	uint32_t argv_len, envp_len;
	char *argv_buf = __agentvm_join_strings(argv, &argv_len);
	char *envp_buf = argv_buf ? __agentvm_join_strings(envp, &envp_len) : NULL;
	if (envp_buf == NULL) {
		free(argv_buf);
		return -1;
	}
	uint32_t err = __agentvm_proc_exec(file, (uint32_t)strlen(file), argv_buf, argv_len, envp_buf, envp_len, NULL, 0);
	/* only a failure returns */
	free(argv_buf);
	free(envp_buf);
	errno = (int)err;
	return -1;
}

int execvpe(const char *file, char *const argv[], char *const envp[]) {
	if (file == NULL || *file == '\0') {
		errno = ENOENT;
		return -1;
	}
	return exec_as_given(file, argv, envp);
}

int execvp(const char *file, char *const argv[]) {
	return execvpe(file, argv, environ);
}

int execve(const char *path, char *const argv[], char *const envp[]) {
	if (path == NULL || *path == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (strchr(path, '/') != NULL)
		return exec_as_given(path, argv, envp);
	size_t n = strlen(path);
	char *relative = malloc(n + 3);
	if (relative == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(relative, "./", 2);
	memcpy(relative + 2, path, n + 1);
	exec_as_given(relative, argv, envp);
	int saved = errno;
	free(relative);
	errno = saved;
	return -1;
}

int execv(const char *path, char *const argv[]) {
	return execve(path, argv, environ);
}

/* execl and friends: collect the variadic arguments into an argv. */
static char **collect_args(const char *arg0, va_list ap, char ***envp_out) {
	va_list count;
	va_copy(count, ap);
	size_t n = 1;
	while (va_arg(count, const char *) != NULL) n++;
	va_end(count);
	char **argv = malloc((n + 1) * sizeof *argv);
	if (argv == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	argv[0] = (char *)arg0;
	for (size_t i = 1; i <= n; i++) argv[i] = va_arg(ap, char *);
	if (envp_out) *envp_out = va_arg(ap, char **);
	return argv;
}

int execl(const char *path, const char *arg0, ...) {
	va_list ap;
	va_start(ap, arg0);
	char **argv = collect_args(arg0, ap, NULL);
	va_end(ap);
	if (argv == NULL) return -1;
	execv(path, argv);
	free(argv);
	return -1;
}

int execlp(const char *file, const char *arg0, ...) {
	va_list ap;
	va_start(ap, arg0);
	char **argv = collect_args(arg0, ap, NULL);
	va_end(ap);
	if (argv == NULL) return -1;
	execvp(file, argv);
	free(argv);
	return -1;
}

int execle(const char *path, const char *arg0, ...) {
	va_list ap;
	va_start(ap, arg0);
	char **envp = NULL;
	char **argv = collect_args(arg0, ap, &envp);
	va_end(ap);
	if (argv == NULL) return -1;
	execve(path, argv, envp);
	free(argv);
	return -1;
}
