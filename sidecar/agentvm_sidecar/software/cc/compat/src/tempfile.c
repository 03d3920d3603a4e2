/* mkstemp and friends, tmpfile: wasi-libc leaves them out ("WASI has no temp
   directories"), but agentvm VMs have /tmp. Names get random letters from
   getentropy; files are created O_EXCL with mode 0600 and a clash retries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATTEMPTS 100

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* Fills the six X's before the suffix; -1 with EINVAL for a malformed template. */
static int randomize(char *template, int suffix_len) {
	size_t len = strlen(template);
	if (suffix_len < 0 || len < 6 + (size_t)suffix_len) goto bad;
	char *x = template + len - suffix_len - 6;
	if (memcmp(x, "XXXXXX", 6) != 0) goto bad;
	unsigned char bytes[6];
	if (getentropy(bytes, sizeof bytes) != 0) return -1;
	for (int i = 0; i < 6; i++) x[i] = letters[bytes[i] % (sizeof letters - 1)];
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int mkostemps(char *template, int suffix_len, int flags) {
	size_t len = strlen(template);
	char saved[6];
	if (len >= 6 + (size_t)(suffix_len > 0 ? suffix_len : 0))
		memcpy(saved, template + len - suffix_len - 6, 6);
	for (int i = 0; i < ATTEMPTS; i++) {
		if (randomize(template, suffix_len) < 0) return -1;
		int fd = open(template, O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE), 0600);
		if (fd >= 0 || errno != EEXIST) return fd;
		memcpy(template + len - suffix_len - 6, saved, 6);
	}
	errno = EEXIST;
	return -1;
}

int mkstemps(char *template, int suffix_len) {
	return mkostemps(template, suffix_len, 0);
}

int mkostemp(char *template, int flags) {
	return mkostemps(template, 0, flags);
}

int mkstemp(char *template) {
	return mkostemps(template, 0, 0);
}

char *mkdtemp(char *template) {
	size_t len = strlen(template);
	char saved[6];
	if (len >= 6) memcpy(saved, template + len - 6, 6);
	for (int i = 0; i < ATTEMPTS; i++) {
		if (randomize(template, 0) < 0) return NULL;
		if (mkdir(template, 0700) == 0) return template;
		if (errno != EEXIST) return NULL;
		memcpy(template + len - 6, saved, 6);
	}
	errno = EEXIST;
	return NULL;
}

FILE *tmpfile(void) {
	const char *dir = getenv("TMPDIR");
	char path[4096];
	if (dir == NULL || *dir == '\0') dir = "/tmp";
	if ((size_t)snprintf(path, sizeof path, "%s/tmpfile.XXXXXX", dir) >= sizeof path) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	int fd = mkstemp(path);
	if (fd < 0) return NULL;
	unlink(path);  /* gone when closed, as tmpfile promises */
	FILE *f = fdopen(fd, "w+");
	if (f == NULL) close(fd);
	return f;
}
