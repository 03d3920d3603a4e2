/* WASI preview1 file operations against agentvm's kernel, called directly through
 * <wasi/api.h> on the agentOS tagged preopen of "/" (exact errnos, rights, dirent
 * cookies), then the same kind of work through plain wasi-libc (which finds the
 * runtime's plain preopen of "/" at fd 3). Works from any cwd; uses /tmp/wasi_fs.
 * Exit status 0 when every line printed; on the first failure prints
 * "FAIL <step> errno=<n>" and exits 1.
 *
 * Expected stdout (exactly):
 *   preopen / found
 *   mkdir ok
 *   write 11
 *   tell 11
 *   read world
 *   fdstat type=4 flags=0 read=1 write=1
 *   filestat type=4 size=11 nlink=1
 *   truncate size=5
 *   pread HEllo
 *   append flags=1 contents=HEllo!
 *   readonly read=1 write=0 write_errno=8
 *   readlink a.txt
 *   symlink nofollow=7 follow=4 size=6
 *   link nlink=2
 *   rename old=44 new=0
 *   readdir . .. a.txt ln moved sub
 *   readdir small-buffer entries=6
 *   utimes mtim=2000000000
 *   errors noent=44 exist=20 notempty=55 isdir=31 notdir=54 badf=8
 *   libc fopen/fgets: line one
 *   libc stat size=18 opendir entries=2
 *   cleanup ok
 *   done
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wasi/api.h>

/* agentOS convention: preopen n is the hidden fd 0x40000000 | (3 + n). */
#define AGENTOS_PREOPEN_FD(n) ((__wasi_fd_t)(0x40000000u | (3u + (n))))

#define RIGHTS_ALL ((__wasi_rights_t)0x3FFFFFFF)
#define RIGHTS_RO ((__wasi_rights_t)0x3FBFFEBE)
#define RIGHTS_WO ((__wasi_rights_t)0x3FFFBFFD)
#define D "tmp/wasi_fs"

static __wasi_fd_t root = (__wasi_fd_t)-1;

static void check(const char *step, __wasi_errno_t err) {
    if (err != 0) {
        printf("FAIL %s errno=%d\n", step, (int)err);
        exit(1);
    }
}

static __wasi_fd_t open_at(const char *step, const char *path, __wasi_oflags_t oflags,
                           __wasi_rights_t rights, __wasi_fdflags_t fdflags) {
    __wasi_fd_t fd;
    check(step, __wasi_path_open(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, oflags, rights,
                                 RIGHTS_ALL, fdflags, &fd));
    return fd;
}

static size_t write_all(const char *step, __wasi_fd_t fd, const char *s) {
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    size_t n;
    check(step, __wasi_fd_write(fd, &iov, 1, &n));
    return n;
}

static size_t read_some(const char *step, __wasi_fd_t fd, char *buf, size_t cap) {
    __wasi_iovec_t iov = {(uint8_t *)buf, cap - 1};
    size_t n;
    check(step, __wasi_fd_read(fd, &iov, 1, &n));
    buf[n] = '\0';
    return n;
}

static __wasi_filestat_t pstat(const char *step, const char *path, int follow) {
    __wasi_filestat_t st;
    check(step, __wasi_path_filestat_get(root, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, &st));
    return st;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    /* 1. find the "/" preopen among the tagged ones */
    for (unsigned n = 0; n < 16; n++) {
        __wasi_prestat_t ps;
        char name[256];
        if (__wasi_fd_prestat_get(AGENTOS_PREOPEN_FD(n), &ps) != 0) break;
        if (ps.u.dir.pr_name_len >= sizeof name) continue;
        check("prestat_dir_name", __wasi_fd_prestat_dir_name(AGENTOS_PREOPEN_FD(n), (uint8_t *)name,
                                                             ps.u.dir.pr_name_len));
        name[ps.u.dir.pr_name_len] = '\0';
        if (strcmp(name, "/") == 0) root = AGENTOS_PREOPEN_FD(n);
    }
    if (root == (__wasi_fd_t)-1) {
        printf("FAIL preopen errno=0\n");
        return 1;
    }
    printf("preopen / found\n");

    __wasi_errno_t err = __wasi_path_create_directory(root, D);
    if (err != __WASI_ERRNO_EXIST) check("mkdir", err);
    printf("mkdir ok\n");

    /* 2. create, write, seek, read */
    __wasi_fd_t fd = open_at("open", D "/a.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, RIGHTS_ALL, 0);
    printf("write %zu\n", write_all("write", fd, "hello world"));
    __wasi_filesize_t pos;
    check("tell", __wasi_fd_seek(fd, 0, __WASI_WHENCE_CUR, &pos));
    printf("tell %llu\n", (unsigned long long)pos);
    check("seek", __wasi_fd_seek(fd, 6, __WASI_WHENCE_SET, &pos));
    char buf[256];
    read_some("read", fd, buf, sizeof buf);
    printf("read %s\n", buf);

    /* 3. fdstat / filestat / truncate / pread / pwrite */
    __wasi_fdstat_t fst;
    check("fdstat", __wasi_fd_fdstat_get(fd, &fst));
    printf("fdstat type=%d flags=%d read=%d write=%d\n", fst.fs_filetype, fst.fs_flags,
           (fst.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0, (fst.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0);
    __wasi_filestat_t st;
    check("filestat", __wasi_fd_filestat_get(fd, &st));
    printf("filestat type=%d size=%llu nlink=%llu\n", st.filetype, (unsigned long long)st.size,
           (unsigned long long)st.nlink);
    check("set_size", __wasi_fd_filestat_set_size(fd, 5));
    check("filestat2", __wasi_fd_filestat_get(fd, &st));
    printf("truncate size=%llu\n", (unsigned long long)st.size);
    __wasi_ciovec_t piov = {(const uint8_t *)"HE", 2};
    size_t n;
    check("pwrite", __wasi_fd_pwrite(fd, &piov, 1, 0, &n));
    __wasi_iovec_t riov = {(uint8_t *)buf, 5};
    check("pread", __wasi_fd_pread(fd, &riov, 1, 0, &n));
    buf[n] = '\0';
    printf("pread %s\n", buf);
    check("close", __wasi_fd_close(fd));

    /* 4. O_APPEND, read-only rights */
    fd = open_at("open_append", D "/a.txt", 0, RIGHTS_WO, __WASI_FDFLAGS_APPEND);
    write_all("append", fd, "!");
    check("fdstat_append", __wasi_fd_fdstat_get(fd, &fst));
    check("close_append", __wasi_fd_close(fd));
    fd = open_at("open_ro", D "/a.txt", 0, RIGHTS_RO, 0);
    read_some("read_ro", fd, buf, sizeof buf);
    printf("append flags=%d contents=%s\n", fst.fs_flags, buf);
    __wasi_fdstat_t rst;
    check("fdstat_ro", __wasi_fd_fdstat_get(fd, &rst));
    __wasi_ciovec_t wiov = {(const uint8_t *)"x", 1};
    err = __wasi_fd_write(fd, &wiov, 1, &n);
    printf("readonly read=%d write=%d write_errno=%d\n", (rst.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0,
           (rst.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0, (int)err);
    check("close_ro", __wasi_fd_close(fd));

    /* 5. symlink, readlink, link, rename */
    check("symlink", __wasi_path_symlink("a.txt", root, D "/ln"));
    size_t used;
    check("readlink", __wasi_path_readlink(root, D "/ln", (uint8_t *)buf, sizeof buf - 1, &used));
    buf[used] = '\0';
    printf("readlink %s\n", buf);
    __wasi_filestat_t lst = pstat("lstat", D "/ln", 0);
    st = pstat("stat", D "/ln", 1);
    printf("symlink nofollow=%d follow=%d size=%llu\n", lst.filetype, st.filetype, (unsigned long long)st.size);
    check("link", __wasi_path_link(root, 0, D "/a.txt", root, D "/hard"));
    st = pstat("stat_hard", D "/hard", 1);
    printf("link nlink=%llu\n", (unsigned long long)st.nlink);
    check("rename", __wasi_path_rename(root, D "/hard", root, D "/moved"));
    __wasi_filestat_t tmp;
    int old_err = __wasi_path_filestat_get(root, 0, D "/hard", &tmp);
    int new_err = __wasi_path_filestat_get(root, 0, D "/moved", &tmp);
    printf("rename old=%d new=%d\n", old_err, new_err);

    /* 6. readdir: whole, then through a buffer too small for two entries */
    check("mkdir_sub", __wasi_path_create_directory(root, D "/sub"));
    __wasi_fd_t dfd = open_at("opendir", D, __WASI_OFLAGS_DIRECTORY, RIGHTS_RO, 0);
    static uint8_t dbuf[4096];
    check("readdir", __wasi_fd_readdir(dfd, dbuf, sizeof dbuf, 0, &used));
    char *names[16];
    int count = 0;
    for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used && count < 16;) {
        __wasi_dirent_t de;
        memcpy(&de, dbuf + off, sizeof de);
        names[count] = strndup((const char *)dbuf + off + sizeof de, de.d_namlen);
        count++;
        off += sizeof de + de.d_namlen;
    }
    qsort(names, count, sizeof names[0], cmp);
    printf("readdir");
    for (int i = 0; i < count; i++) printf(" %s", names[i]);
    printf("\n");
    int entries = 0;
    __wasi_dircookie_t cookie = 0;
    for (int guard = 0; guard < 100; guard++) {
        uint8_t small[40]; /* one 24-byte header + a short name fits, never two */
        check("readdir_small", __wasi_fd_readdir(dfd, small, sizeof small, cookie, &used));
        if (used < sizeof(__wasi_dirent_t)) break;
        __wasi_dirent_t de;
        memcpy(&de, small, sizeof de);
        entries++;
        cookie = de.d_next;
        if (used < sizeof small) break; /* end of directory */
    }
    printf("readdir small-buffer entries=%d\n", entries);
    check("close_dir", __wasi_fd_close(dfd));

    /* 7. times */
    check("utimes", __wasi_path_filestat_set_times(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, D "/a.txt",
                                                  1000000000ull, 2000000000ull,
                                                  __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    st = pstat("stat_times", D "/a.txt", 1);
    printf("utimes mtim=%llu\n", (unsigned long long)st.mtim);

    /* 8. errors */
    __wasi_fd_t bad;
    int e_noent = __wasi_path_open(root, 1, D "/missing", 0, RIGHTS_RO, RIGHTS_ALL, 0, &bad);
    int e_exist = __wasi_path_open(root, 1, D "/a.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, RIGHTS_ALL,
                                   RIGHTS_ALL, 0, &bad);
    int e_notempty = __wasi_path_remove_directory(root, D);
    int e_isdir = __wasi_path_unlink_file(root, D "/sub");
    int e_notdir = __wasi_path_open(root, 1, D "/a.txt", __WASI_OFLAGS_DIRECTORY, RIGHTS_RO, RIGHTS_ALL, 0, &bad);
    int e_badf = __wasi_fd_write(1234, &wiov, 1, &n);
    printf("errors noent=%d exist=%d notempty=%d isdir=%d notdir=%d badf=%d\n", e_noent, e_exist, e_notempty,
           e_isdir, e_notdir, e_badf);

    /* 9. the same through libc */
    FILE *f = fopen("/tmp/wasi_fs/libc.txt", "w");
    if (!f) { printf("FAIL fopen errno=0\n"); return 1; }
    fputs("line one\nline two\n", f);
    fclose(f);
    f = fopen("/tmp/wasi_fs/libc.txt", "r");
    if (!f || !fgets(buf, sizeof buf, f)) { printf("FAIL fgets errno=0\n"); return 1; }
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    printf("libc fopen/fgets: %s\n", buf);
    struct stat sb;
    if (stat("/tmp/wasi_fs/libc.txt", &sb) != 0) { printf("FAIL stat errno=0\n"); return 1; }
    DIR *dir = opendir("/tmp/wasi_fs/sub");
    int dents = 0;
    if (!dir) { printf("FAIL opendir errno=0\n"); return 1; }
    while (readdir(dir)) dents++;
    closedir(dir);
    printf("libc stat size=%lld opendir entries=%d\n", (long long)sb.st_size, dents);

    /* 10. cleanup */
    check("unlink_a", __wasi_path_unlink_file(root, D "/a.txt"));
    check("unlink_ln", __wasi_path_unlink_file(root, D "/ln"));
    check("unlink_moved", __wasi_path_unlink_file(root, D "/moved"));
    check("unlink_libc", __wasi_path_unlink_file(root, D "/libc.txt"));
    check("rmdir_sub", __wasi_path_remove_directory(root, D "/sub"));
    check("rmdir", __wasi_path_remove_directory(root, D));
    printf("cleanup ok\n");
    printf("done\n");
    return 0;
}
