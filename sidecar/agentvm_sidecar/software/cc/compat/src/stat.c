/* stat that tells permission bits and owners, and chmod that changes them.

   WASI's filestat has neither mode bits nor owners, so wasi-libc's stat reports
   every file as mode 0, owned by root; a program that copies a file's mode (patch
   does for every file it rewrites) would then make its output unreadable. The
   published agentOS commands ask host_fs (path_mode, fd_mode, path_owner), and
   so does this. Our <sys/stat.h> points every stat, lstat, fstat, fstatat, chmod
   and fchmodat call of a program built with agentvm-cc here (asm labels); the
   stat functions call wasi-libc's and then fill in what it cannot know. An fd has
   no host owner call: fstat keeps uid/gid 0. */
#define AGENTVM_COMPAT_STAT_INTERNAL 1  /* the plain names below are wasi-libc's */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <wasi/libc-find-relpath.h>

#define AGENTVM_HOST_FS(name) __attribute__((import_module("host_fs"), import_name(#name)))

/* full st_mode (type | permission bits); 0 = unknown */
AGENTVM_HOST_FS(path_mode) uint32_t __agentvm_path_mode(int32_t fd, const char *path, uint32_t len, uint32_t follow);
AGENTVM_HOST_FS(fd_mode) uint32_t __agentvm_fd_mode(int32_t fd);
AGENTVM_HOST_FS(path_owner)
uint32_t __agentvm_path_owner(int32_t fd, const char *path, uint32_t len, uint32_t follow, uint32_t *uid, uint32_t *gid);
AGENTVM_HOST_FS(chmod) uint32_t __agentvm_host_chmod(int32_t fd, const char *path, uint32_t len, uint32_t mode);


/* (preopened directory fd, path relative to it) for a path as *at calls take it;
   -1 with errno when no preopen holds it. */
static int host_dir(int dirfd, const char *path, char relative[PATH_MAX], const char **target) {
	*target = path;
	if (dirfd != AT_FDCWD && path[0] != '/') return dirfd;
	const char *prefix;
	char *out = relative;
	int fd = __wasilibc_find_relpath(path, &prefix, &out, PATH_MAX);
	*target = out;
	return fd;
}

int __agentvm_fstatat(int dirfd, const char *restrict path, struct stat *restrict buf, int flag) {
	if (fstatat(dirfd, path, buf, flag) != 0) return -1;
	char relative[PATH_MAX];
	const char *target;
	int fd = host_dir(dirfd, path, relative, &target);
	if (fd < 0) return 0;  /* stat found it, so this cannot happen; keep its answer */
	uint32_t len = (uint32_t)strlen(target), follow = (flag & AT_SYMLINK_NOFOLLOW) == 0;
	uint32_t mode = __agentvm_path_mode(fd, target, len, follow);
	if ((mode & S_IFMT) == (buf->st_mode & S_IFMT)) buf->st_mode = mode;
	uint32_t uid, gid;
	if (__agentvm_path_owner(fd, target, len, follow, &uid, &gid) == 0) {
		buf->st_uid = uid;
		buf->st_gid = gid;
	}
	return 0;
}

int __agentvm_fstat(int fd, struct stat *buf) {
	if (fstat(fd, buf) != 0) return -1;
	uint32_t mode = __agentvm_fd_mode(fd);
	if ((mode & S_IFMT) == (buf->st_mode & S_IFMT)) buf->st_mode = mode;
	return 0;
}

int __agentvm_fchmodat(int dirfd, const char *path, mode_t mode, int flag) {
	if (flag & ~AT_SYMLINK_NOFOLLOW) {
		errno = EINVAL;
		return -1;
	}
	if (flag & AT_SYMLINK_NOFOLLOW) {  /* as on Linux: links have no mode of their own */
		errno = EOPNOTSUPP;
		return -1;
	}
	char relative[PATH_MAX];
	const char *target;
	int fd = host_dir(dirfd, path, relative, &target);
	if (fd < 0) return -1;
	uint32_t err = __agentvm_host_chmod(fd, target, (uint32_t)strlen(target), mode & 07777);
	if (err) {
		errno = (int)err;
		return -1;
	}
	return 0;
}

int __agentvm_chmod(const char *path, mode_t mode) {
	return __agentvm_fchmodat(AT_FDCWD, path, mode, 0);
}

int __agentvm_stat(const char *restrict path, struct stat *restrict buf) {
	return __agentvm_fstatat(AT_FDCWD, path, buf, 0);
}

int __agentvm_lstat(const char *restrict path, struct stat *restrict buf) {
	return __agentvm_fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
}
