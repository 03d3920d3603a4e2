/* chown, lchown, fchownat over host_fs.path_chown, the import the published
   chown uses. A path becomes (preopened directory fd, relative path) the way
   wasi-libc's own calls find it. As on Linux, an id of -1 is left unchanged and
   giving a file away without privilege is EPERM. fchown has no host call and
   stays undeclared. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <wasi/libc-find-relpath.h>

__attribute__((import_module("host_fs"), import_name("path_chown")))
uint32_t __agentvm_path_chown(int32_t fd, const char *path, uint32_t path_len, uint32_t uid, uint32_t gid, uint32_t follow);

static int chown_at(int dirfd, const char *path, uid_t uid, gid_t gid, int follow) {
	char relative[PATH_MAX];
	const char *target = path;
	if (dirfd == AT_FDCWD || path[0] == '/') {
		const char *prefix;
		char *out = relative;
		dirfd = __wasilibc_find_relpath(path, &prefix, &out, sizeof relative);
		if (dirfd < 0) return -1;
		target = out;
	}
	uint32_t err = __agentvm_path_chown(dirfd, target, (uint32_t)strlen(target), uid, gid, (uint32_t)follow);
	if (err) {
		errno = (int)err;
		return -1;
	}
	return 0;
}

int chown(const char *path, uid_t uid, gid_t gid) {
	return chown_at(AT_FDCWD, path, uid, gid, 1);
}

int lchown(const char *path, uid_t uid, gid_t gid) {
	return chown_at(AT_FDCWD, path, uid, gid, 0);
}

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) {
	if (flags & ~AT_SYMLINK_NOFOLLOW) {
		errno = EINVAL;
		return -1;
	}
	return chown_at(dirfd, path, uid, gid, !(flags & AT_SYMLINK_NOFOLLOW));
}
