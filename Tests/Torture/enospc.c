/* Disk faults for the torture and responsiveness tests, loaded with LD_PRELOAD (after umockdev's
 * preload, which forwards to the next write).
 * - Disk full: while the file named by PINGJIA_ENOSPC_FLAG exists, every write to a regular file
 *   under PINGJIA_ENOSPC_DIR fails with ENOSPC, as on a full file system.
 * - Slow disk: with PINGJIA_FSYNC_DELAY_MS set, every fsync and fdatasync of a regular file under
 *   PINGJIA_FSYNC_DELAY_DIR (any file when that is unset) first sleeps that many milliseconds, as
 *   on a worn SD card.
 * Build: gcc -shared -fPIC -O2 -o enospc.so enospc.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Whether fd is a regular file under dir. */
static int under(int fd, const char *dir) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return strncmp(target, dir, strlen(dir)) == 0;
}

static int full(int fd) {
    const char *flag = getenv("PINGJIA_ENOSPC_FLAG");
    const char *dir = getenv("PINGJIA_ENOSPC_DIR");
    if (!flag || !dir || access(flag, F_OK) != 0) return 0;
    return under(fd, dir);
}

static void slow_sync(int fd) {
    const char *ms = getenv("PINGJIA_FSYNC_DELAY_MS");
    if (!ms || atol(ms) <= 0) return;
    const char *dir = getenv("PINGJIA_FSYNC_DELAY_DIR");
    if (dir && !under(fd, dir)) return;
    struct timespec delay = { atol(ms) / 1000, (atol(ms) % 1000) * 1000000L };
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {}
}

#define NEXT(name) static __typeof__(name) *next_##name; if (!next_##name) next_##name = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t count) {
    NEXT(write);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return next_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    NEXT(pwrite);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return next_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    NEXT(pwrite64);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return next_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    NEXT(writev);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return next_writev(fd, iov, iovcnt);
}

int ftruncate(int fd, off_t length) {
    NEXT(ftruncate);
    struct stat st;
    /* Growing a file needs space; shrinking does not. */
    if (full(fd) && fstat(fd, &st) == 0 && length > st.st_size) { errno = ENOSPC; return -1; }
    return next_ftruncate(fd, length);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
    NEXT(fallocate);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return next_fallocate(fd, mode, offset, len);
}

int posix_fallocate(int fd, off_t offset, off_t len) {
    NEXT(posix_fallocate);
    if (full(fd)) return ENOSPC;
    return next_posix_fallocate(fd, offset, len);
}

int fsync(int fd) {
    NEXT(fsync);
    slow_sync(fd);
    return next_fsync(fd);
}

int fdatasync(int fd) {
    NEXT(fdatasync);
    slow_sync(fd);
    return next_fdatasync(fd);
}
