/* Creates file names that are not valid UTF-8 (a shell cannot: brush keeps strings
 * as UTF-8), for the wire's non-UTF-8 name encoding (tests/security/test_fs_reads.py):
 *   /tmp/u/bad\xffname        an empty file
 *   /tmp/u/dir\xfe/inner      a directory holding a file
 *   /tmp/u/link -> to\xff     a symlink whose target is not UTF-8
 * Prints "ok" and exits 0, or "FAIL <step>" and exits 1.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *step) {
    printf("FAIL %s\n", step);
    return 1;
}

int main(void) {
    if (mkdir("/tmp/u", 0755) != 0) return fail("mkdir /tmp/u");
    int fd = open("/tmp/u/bad\xffname", O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return fail("create file");
    close(fd);
    if (mkdir("/tmp/u/dir\xfe", 0755) != 0) return fail("mkdir dir");
    fd = open("/tmp/u/dir\xfe/inner", O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return fail("create inner");
    close(fd);
    if (symlink("to\xff", "/tmp/u/link") != 0) return fail("symlink");
    printf("ok\n");
    return 0;
}
