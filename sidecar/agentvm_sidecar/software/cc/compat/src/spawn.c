/* posix_spawn and posix_spawnp over host_process.proc_spawn_v3.

   The kernel builds the child in one call: it copies the parent's fd table,
   applies the file actions in order, closes FD_CLOEXEC fds and starts the
   program, so the file actions are kept here directly in the host's wire form:
   records of a 24-byte little-endian header (command, fd, source_fd, oflag,
   mode, path_len) followed by the path bytes (wasm/host/encoding.py). Open flags
   are translated to Linux numbering when the action is added. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_process.h"

extern char **environ;

enum { ACTION_CLOSE = 1, ACTION_DUP2 = 2, ACTION_OPEN = 3, ACTION_CHDIR = 4, ACTION_FCHDIR = 5 };

/* Linux (asm-generic) O_* values */
enum {
	L_WRONLY = 01, L_RDWR = 02, L_CREAT = 0100, L_EXCL = 0200, L_NOCTTY = 0400,
	L_TRUNC = 01000, L_APPEND = 02000, L_NONBLOCK = 04000, L_DIRECTORY = 0200000,
	L_NOFOLLOW = 0400000, L_CLOEXEC = 02000000,
};

static uint32_t linux_oflag(int oflag) {
	uint32_t out = 0;
	int access = oflag & O_ACCMODE;
	if (access == O_RDWR) out |= L_RDWR;
	else if (access == O_WRONLY) out |= L_WRONLY;
	if (oflag & O_CREAT) out |= L_CREAT;
	if (oflag & O_EXCL) out |= L_EXCL;
	if (oflag & O_TRUNC) out |= L_TRUNC;
	if (oflag & O_APPEND) out |= L_APPEND;
	if (oflag & O_NONBLOCK) out |= L_NONBLOCK;
	if (oflag & O_DIRECTORY) out |= L_DIRECTORY;
	if (oflag & O_NOFOLLOW) out |= L_NOFOLLOW;
#if O_NOCTTY
	if (oflag & O_NOCTTY) out |= L_NOCTTY;
#endif
#if O_CLOEXEC
	if (oflag & O_CLOEXEC) out |= L_CLOEXEC;
#endif
	return out;
}

static void put_u32(unsigned char *p, uint32_t v) {
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static int add_action(posix_spawn_file_actions_t *fa, uint32_t command, int fd, int source_fd,
                      uint32_t oflag, uint32_t mode, const char *path) {
	size_t path_len = path ? strlen(path) : 0;
	size_t need = fa->__len + 24 + path_len;
	if (need > fa->__cap) {
		size_t cap = fa->__cap ? fa->__cap * 2 : 256;
		while (cap < need) cap *= 2;
		unsigned char *buf = realloc(fa->__buf, cap);
		if (buf == NULL) {
			fa->__error = ENOMEM;
			return ENOMEM;
		}
		fa->__buf = buf;
		fa->__cap = cap;
	}
	unsigned char *p = fa->__buf + fa->__len;
	put_u32(p, command);
	put_u32(p + 4, (uint32_t)fd);
	put_u32(p + 8, (uint32_t)source_fd);
	put_u32(p + 12, oflag);
	put_u32(p + 16, mode);
	put_u32(p + 20, (uint32_t)path_len);
	if (path_len) memcpy(p + 24, path, path_len);
	fa->__len = need;
	return 0;
}

int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa) {
	memset(fa, 0, sizeof *fa);
	return 0;
}

int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa) {
	free(fa->__buf);
	memset(fa, 0, sizeof *fa);
	return 0;
}

int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *restrict fa, int fd,
                                     const char *restrict path, int oflag, mode_t mode) {
	if (fd < 0) return EBADF;
	return add_action(fa, ACTION_OPEN, fd, 0, linux_oflag(oflag), mode, path);
}

int posix_spawn_file_actions_addclose(posix_spawn_file_actions_t *fa, int fd) {
	if (fd < 0) return EBADF;
	return add_action(fa, ACTION_CLOSE, fd, 0, 0, 0, NULL);
}

int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int source_fd, int fd) {
	if (source_fd < 0 || fd < 0) return EBADF;
	return add_action(fa, ACTION_DUP2, fd, source_fd, 0, 0, NULL);
}

int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *restrict fa, const char *restrict path) {
	return add_action(fa, ACTION_CHDIR, 0, 0, 0, 0, path);
}

int posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t *fa, int fd) {
	if (fd < 0) return EBADF;
	return add_action(fa, ACTION_FCHDIR, fd, 0, 0, 0, NULL);
}

int posix_spawnattr_init(posix_spawnattr_t *attr) {
	memset(attr, 0, sizeof *attr);
	return 0;
}

int posix_spawnattr_destroy(posix_spawnattr_t *attr) {
	(void)attr;
	return 0;
}

int posix_spawnattr_setflags(posix_spawnattr_t *attr, short flags) {
	if ((unsigned short)flags > 0xff) return EINVAL;
	attr->__flags = flags;
	return 0;
}

int posix_spawnattr_getflags(const posix_spawnattr_t *restrict attr, short *restrict flags) {
	*flags = attr->__flags;
	return 0;
}

int posix_spawnattr_setpgroup(posix_spawnattr_t *attr, pid_t pgroup) {
	attr->__pgrp = pgroup;
	return 0;
}

int posix_spawnattr_getpgroup(const posix_spawnattr_t *restrict attr, pid_t *restrict pgroup) {
	*pgroup = attr->__pgrp;
	return 0;
}

int posix_spawnattr_setsigmask(posix_spawnattr_t *restrict attr, const sigset_t *restrict mask) {
	attr->__mask = *mask;
	return 0;
}

int posix_spawnattr_getsigmask(const posix_spawnattr_t *restrict attr, sigset_t *restrict mask) {
	*mask = attr->__mask;
	return 0;
}

int posix_spawnattr_setsigdefault(posix_spawnattr_t *restrict attr, const sigset_t *restrict def) {
	attr->__def = *def;
	return 0;
}

int posix_spawnattr_getsigdefault(const posix_spawnattr_t *restrict attr, sigset_t *restrict def) {
	*def = attr->__def;
	return 0;
}

char *__agentvm_join_strings(char *const *strings, uint32_t *len) {
	size_t total = 0;
	for (size_t i = 0; strings && strings[i]; i++) total += strlen(strings[i]) + 1;
	char *buf = malloc(total ? total : 1);
	if (buf == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	char *p = buf;
	for (size_t i = 0; strings && strings[i]; i++) {
		size_t n = strlen(strings[i]) + 1;
		memcpy(p, strings[i], n);
		p += n;
	}
	*len = (uint32_t)total;
	return buf;
}

static int spawn(pid_t *restrict res, const char *exec, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *restrict attr, char *const argv[], char *const envp[]) {
	if (fa && fa->__error) return fa->__error;
	uint32_t flags = attr ? (uint32_t)attr->__flags : 0;
	unsigned long long mask;
	if (flags & POSIX_SPAWN_SETSIGMASK) {
		mask = attr->__mask.__bits;
	} else {  /* the child inherits the caller's blocked signals */
		uint32_t lo, hi;
		uint32_t err = __agentvm_proc_signal_mask(AGENTVM_SPAWN_SIGMASK_QUERY, 0, 0, &lo, &hi);
		if (err) return (int)err;
		mask = lo | (unsigned long long)hi << 32;
	}
	unsigned long long def = attr ? attr->__def.__bits : 0;
	uint32_t argv_len, envp_len;
	char *argv_buf = __agentvm_join_strings(argv, &argv_len);
	char *envp_buf = argv_buf ? __agentvm_join_strings(envp ? envp : environ, &envp_len) : NULL;
	if (envp_buf == NULL) {
		free(argv_buf);
		return ENOMEM;
	}
	const char *cwd = __agentvm_child_cwd();
	uint32_t pid = 0;
	uint32_t err = __agentvm_proc_spawn(
		exec, (uint32_t)strlen(exec), argv_buf, argv_len, envp_buf, envp_len,
		fa ? fa->__buf : NULL, fa ? (uint32_t)fa->__len : 0, cwd, (uint32_t)strlen(cwd), flags,
		(uint32_t)def, (uint32_t)(def >> 32), (uint32_t)mask, (uint32_t)(mask >> 32),
		attr ? attr->__pgrp : 0, &pid);
	free(argv_buf);
	free(envp_buf);
	if (err) return (int)err;
	if (res) *res = (pid_t)pid;
	return 0;
}

int posix_spawnp(pid_t *restrict res, const char *restrict file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *restrict attr, char *const argv[restrict], char *const envp[restrict]) {
	/* the kernel searches $PATH for a name without a slash */
	return spawn(res, file, fa, attr, argv, envp);
}

int posix_spawn(pid_t *restrict res, const char *restrict path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *restrict attr, char *const argv[restrict], char *const envp[restrict]) {
	if (strchr(path, '/') != NULL)
		return spawn(res, path, fa, attr, argv, envp);
	/* posix_spawn never searches $PATH: a bare name is a file in the cwd */
	size_t n = strlen(path);
	char *relative = malloc(n + 3);
	if (relative == NULL) return ENOMEM;
	memcpy(relative, "./", 2);
	memcpy(relative + 2, path, n + 1);
	int err = spawn(res, relative, fa, attr, argv, envp);
	free(relative);
	return err;
}
