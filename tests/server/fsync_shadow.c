/* A power-loss recorder, loaded into a process with LD_PRELOAD (see test_power_loss.py).

   For every fsync/fdatasync of a file under $SHADOW_WATCH, once the real call has returned
   successfully, the file's whole content (read through the same descriptor) is copied to
   $SHADOW_DIR/<basename> (written to a temporary name, then renamed: a kill during the copy
   leaves the previous copy). So $SHADOW_DIR always holds what a power loss would keep on a
   disk that keeps nothing that was not fsynced: each file as of its last fsync, and no file
   that was never fsynced. (A real disk may keep some unsynced writes too; losing all of them
   is one of the outcomes a power loss may have, the one that loses most.)

   A file's content is copied after the real fsync returns and before the caller gets the
   return value, so anything the caller did after the fsync (SQLite: COMMIT returns, the
   server acknowledges) comes after the copy. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static void shadow(int fd) {
    const char *watch = getenv("SHADOW_WATCH");
    const char *dir = getenv("SHADOW_DIR");
    if (watch == NULL || dir == NULL) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    size_t wl = strlen(watch);
    if (strncmp(path, watch, wl) != 0 || path[wl] != '/') return;
    const char *base = strrchr(path, '/') + 1;
    char tmp[PATH_MAX], dest[PATH_MAX];
    snprintf(dest, sizeof dest, "%s/%s", dir, base);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, base);
    int saved = errno;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) abort(); /* a recorder that cannot record must not pass silently */
    char buf[1 << 16];
    off_t off = 0;
    for (;;) {
        ssize_t got = pread(fd, buf, sizeof buf, off);
        if (got < 0) abort();
        if (got == 0) break;
        if (write(out, buf, (size_t)got) != got) abort();
        off += got;
    }
    close(out);
    if (rename(tmp, dest) != 0) abort();
    errno = saved;
}

int fsync(int fd) {
    if (real_fsync == NULL) real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real_fsync(fd);
    if (rc == 0) shadow(fd);
    return rc;
}

int fdatasync(int fd) {
    if (real_fdatasync == NULL) real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real_fdatasync(fd);
    if (rc == 0) shadow(fd);
    return rc;
}
