/*
 * fsync_shim.c: an LD_PRELOAD library that lets the end-to-end tests watch
 * and break the gateway's durability path.
 *
 * It interposes fsync() and fdatasync(), the calls that send data on a
 * socket (send, sendmsg, writev, write) and the calls that receive from one
 * (recv, recvfrom, read). Two environment variables drive it:
 *
 *   DH_SHIM_LOG=PATH        append one text record per call to PATH:
 *
 *                             <monotonic_ns> <kind> <fd> <rc> <marker>
 *
 *                           kind is the function name; rc is its return
 *                           value; marker is "http=NNN" for a send whose data
 *                           starts with an HTTP status line (NNN is the
 *                           status), "injected" for an fsync failed on
 *                           purpose, "-" otherwise. Sends are stamped just
 *                           before the real call, everything else just after
 *                           it returns, so "fsync stamp < send stamp" means
 *                           the fsync had finished before the response
 *                           started to leave.
 *
 *   DH_SHIM_FAIL_FILE=PATH  while PATH exists, fsync() and fdatasync() fail
 *                           with EIO without reaching the kernel.
 *
 * read(), write() and writev() are logged only when the descriptor is a
 * socket. Whether it is one is remembered per descriptor in a small table:
 * filled by accept/accept4/socket/socketpair and, for descriptors first seen
 * in a read or write, by one fstat(); emptied by close/dup2/dup3. SQLite
 * writes its files with pwrite() and stdio bypasses these symbols, so the
 * fstat() path is rare.
 *
 * The shim's own log writes go through the real write() it resolved with
 * dlsym(RTLD_NEXT), never through its own wrapper, so they are not logged.
 * If dlsym() cannot answer yet (very early in process start-up) a wrapper
 * falls back to the raw system call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*close_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*socket_fn)(int, int, int);
typedef int (*socketpair_fn)(int, int, int, int[2]);

/* Exported wrappers, declared so -Wmissing-prototypes stays quiet even where
 * the system headers spell them differently. */
int fsync(int fd);
int fdatasync(int fd);
ssize_t send(int fd, const void *buf, size_t len, int flags);
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t write(int fd, const void *buf, size_t len);
ssize_t recv(int fd, void *buf, size_t len, int flags);
ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                 struct sockaddr *addr, socklen_t *addrlen);
ssize_t read(int fd, void *buf, size_t len);
int close(int fd);
int dup2(int oldfd, int newfd);
int dup3(int oldfd, int newfd, int flags);
int accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int sv[2]);

/* Resolve the next definition of a symbol once; NULL when dlsym cannot
 * answer yet. Races only store the same value twice. */
#define REAL(type, name)                                                     \
    static type real_##name;                                                 \
    static type get_##name(void)                                             \
    {                                                                        \
        type f = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);            \
        if (f == NULL) {                                                     \
            f = (type)dlsym(RTLD_NEXT, #name);                               \
            if (f != NULL)                                                   \
                __atomic_store_n(&real_##name, f, __ATOMIC_RELEASE);         \
        }                                                                    \
        return f;                                                            \
    }

REAL(sync_fn, fsync)
REAL(sync_fn, fdatasync)
REAL(send_fn, send)
REAL(sendmsg_fn, sendmsg)
REAL(writev_fn, writev)
REAL(write_fn, write)
REAL(recv_fn, recv)
REAL(recvfrom_fn, recvfrom)
REAL(read_fn, read)
REAL(close_fn, close)
REAL(dup2_fn, dup2)
REAL(dup3_fn, dup3)
REAL(accept_fn, accept)
REAL(accept4_fn, accept4)
REAL(socket_fn, socket)
REAL(socketpair_fn, socketpair)

/* ---- configuration, read once ---------------------------------------- */

static pthread_once_t conf_once = PTHREAD_ONCE_INIT;
static const char *log_path;  /* DH_SHIM_LOG or NULL */
static const char *fail_path; /* DH_SHIM_FAIL_FILE or NULL */

static void conf_init(void)
{
    const char *s = getenv("DH_SHIM_LOG");
    log_path = (s != NULL && *s != '\0') ? s : NULL;
    s = getenv("DH_SHIM_FAIL_FILE");
    fail_path = (s != NULL && *s != '\0') ? s : NULL;
}

static void conf_load(void)
{
    pthread_once(&conf_once, conf_init);
}

/* ---- descriptor kind cache ------------------------------------------- */

#define FDCACHE 65536
enum { FD_UNKNOWN = 0, FD_SOCKET = 1, FD_OTHER = 2 };
static unsigned char fd_kind[FDCACHE];

static void fd_set_kind(int fd, unsigned char kind)
{
    if (fd >= 0 && fd < FDCACHE)
        __atomic_store_n(&fd_kind[fd], kind, __ATOMIC_RELAXED);
}

static int fd_is_socket(int fd)
{
    struct stat st;
    unsigned char k = FD_UNKNOWN;

    if (fd < 0)
        return 0;
    if (fd < FDCACHE)
        k = __atomic_load_n(&fd_kind[fd], __ATOMIC_RELAXED);
    if (k == FD_UNKNOWN) {
        int saved = errno;
        if (fstat(fd, &st) != 0) {
            errno = saved;
            return 0;
        }
        errno = saved;
        k = S_ISSOCK(st.st_mode) ? FD_SOCKET : FD_OTHER;
        fd_set_kind(fd, k);
    }
    return k == FD_SOCKET;
}

/* ---- the log ---------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static int log_failed;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int logging(void)
{
    conf_load();
    return log_path != NULL;
}

static ssize_t raw_write(int fd, const void *buf, size_t len)
{
    write_fn w = get_write();
    if (w != NULL)
        return w(fd, buf, len);
    return syscall(SYS_write, fd, buf, len);
}

static void log_record(uint64_t ns, const char *kind, int fd, long rc,
                       const char *marker)
{
    char line[160];
    int n;
    int saved = errno;

    if (!logging())
        return;
    n = snprintf(line, sizeof line, "%llu %s %d %ld %s\n",
                 (unsigned long long)ns, kind, fd, rc, marker);
    if (n <= 0 || (size_t)n >= sizeof line)
        goto out;
    pthread_mutex_lock(&log_lock);
    if (log_fd < 0 && !log_failed) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
        if (log_fd < 0)
            log_failed = 1;
        else
            fd_set_kind(log_fd, FD_OTHER);
    }
    if (log_fd >= 0)
        (void)raw_write(log_fd, line, (size_t)n);
    pthread_mutex_unlock(&log_lock);
out:
    errno = saved;
}

/* The marker for data about to be sent: "http=NNN" when it begins with an
 * HTTP/1.x status line, "-" otherwise. out must hold 16 bytes. */
static const char *send_marker(const void *data, size_t len, char *out)
{
    const char *p = data;

    if (p != NULL && len >= 12 && memcmp(p, "HTTP/1.", 7) == 0 &&
        p[8] == ' ' && p[9] >= '0' && p[9] <= '9' && p[10] >= '0' &&
        p[10] <= '9' && p[11] >= '0' && p[11] <= '9') {
        memcpy(out, "http=", 5);
        memcpy(out + 5, p + 9, 3);
        out[8] = '\0';
        return out;
    }
    return "-";
}

/* ---- fsync, fdatasync ------------------------------------------------- */

static int fail_now(void)
{
    int saved = errno;
    int hit;

    conf_load();
    if (fail_path == NULL)
        return 0;
    hit = access(fail_path, F_OK) == 0;
    errno = saved;
    return hit;
}

static int do_sync(int fd, sync_fn f, long nr, const char *kind)
{
    int rc;

    if (fail_now()) {
        log_record(now_ns(), kind, fd, -1, "injected");
        errno = EIO;
        return -1;
    }
    rc = f != NULL ? f(fd) : (int)syscall(nr, fd);
    log_record(now_ns(), kind, fd, rc, "-");
    return rc;
}

int fsync(int fd)
{
    return do_sync(fd, get_fsync(), SYS_fsync, "fsync");
}

int fdatasync(int fd)
{
    return do_sync(fd, get_fdatasync(), SYS_fdatasync, "fdatasync");
}

/* ---- sends ------------------------------------------------------------ */

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    send_fn f = get_send();
    char mk[16];
    const char *marker = logging() ? send_marker(buf, len, mk) : "-";
    uint64_t t = now_ns();
    ssize_t rc = f != NULL ? f(fd, buf, len, flags)
                           : syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
    log_record(t, "send", fd, (long)rc, marker);
    return rc;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    sendmsg_fn f = get_sendmsg();
    char mk[16];
    const char *marker = "-";
    uint64_t t;
    ssize_t rc;

    if (logging() && msg != NULL && msg->msg_iovlen > 0 && msg->msg_iov != NULL)
        marker = send_marker(msg->msg_iov[0].iov_base,
                             msg->msg_iov[0].iov_len, mk);
    t = now_ns();
    rc = f != NULL ? f(fd, msg, flags) : syscall(SYS_sendmsg, fd, msg, flags);
    log_record(t, "sendmsg", fd, (long)rc, marker);
    return rc;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    writev_fn f = get_writev();
    char mk[16];
    const char *marker = "-";
    int sock = logging() && fd_is_socket(fd);
    uint64_t t;
    ssize_t rc;

    if (sock && iov != NULL && iovcnt > 0)
        marker = send_marker(iov[0].iov_base, iov[0].iov_len, mk);
    t = now_ns();
    rc = f != NULL ? f(fd, iov, iovcnt) : syscall(SYS_writev, fd, iov, iovcnt);
    if (sock)
        log_record(t, "writev", fd, (long)rc, marker);
    return rc;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    char mk[16];
    const char *marker = "-";
    int sock = logging() && fd_is_socket(fd);
    uint64_t t;
    ssize_t rc;

    if (sock)
        marker = send_marker(buf, len, mk);
    t = now_ns();
    rc = raw_write(fd, buf, len);
    if (sock)
        log_record(t, "write", fd, (long)rc, marker);
    return rc;
}

/* ---- receives --------------------------------------------------------- */

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    recv_fn f = get_recv();
    ssize_t rc = f != NULL ? f(fd, buf, len, flags)
                           : syscall(SYS_recvfrom, fd, buf, len, flags, NULL,
                                     NULL);
    log_record(now_ns(), "recv", fd, (long)rc, "-");
    return rc;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                 struct sockaddr *addr, socklen_t *addrlen)
{
    recvfrom_fn f = get_recvfrom();
    ssize_t rc = f != NULL ? f(fd, buf, len, flags, addr, addrlen)
                           : syscall(SYS_recvfrom, fd, buf, len, flags, addr,
                                     addrlen);
    log_record(now_ns(), "recvfrom", fd, (long)rc, "-");
    return rc;
}

ssize_t read(int fd, void *buf, size_t len)
{
    read_fn f = get_read();
    int sock = logging() && fd_is_socket(fd);
    ssize_t rc = f != NULL ? f(fd, buf, len) : syscall(SYS_read, fd, buf, len);
    if (sock)
        log_record(now_ns(), "read", fd, (long)rc, "-");
    return rc;
}

/* ---- keeping the descriptor cache honest ------------------------------ */

int close(int fd)
{
    close_fn f = get_close();
    fd_set_kind(fd, FD_UNKNOWN);
    return f != NULL ? f(fd) : (int)syscall(SYS_close, fd);
}

int dup2(int oldfd, int newfd)
{
    dup2_fn f = get_dup2();
    int rc;

    fd_set_kind(newfd, FD_UNKNOWN);
    rc = f != NULL ? f(oldfd, newfd) : (int)syscall(SYS_dup3, oldfd, newfd, 0);
    fd_set_kind(newfd, FD_UNKNOWN);
    return rc;
}

int dup3(int oldfd, int newfd, int flags)
{
    dup3_fn f = get_dup3();
    int rc;

    fd_set_kind(newfd, FD_UNKNOWN);
    rc = f != NULL ? f(oldfd, newfd, flags)
                   : (int)syscall(SYS_dup3, oldfd, newfd, flags);
    fd_set_kind(newfd, FD_UNKNOWN);
    return rc;
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    accept_fn f = get_accept();
    int rc = f != NULL ? f(fd, addr, addrlen)
                       : (int)syscall(SYS_accept, fd, addr, addrlen);
    if (rc >= 0)
        fd_set_kind(rc, FD_SOCKET);
    return rc;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    accept4_fn f = get_accept4();
    int rc = f != NULL ? f(fd, addr, addrlen, flags)
                       : (int)syscall(SYS_accept4, fd, addr, addrlen, flags);
    if (rc >= 0)
        fd_set_kind(rc, FD_SOCKET);
    return rc;
}

int socket(int domain, int type, int protocol)
{
    socket_fn f = get_socket();
    int rc = f != NULL ? f(domain, type, protocol)
                       : (int)syscall(SYS_socket, domain, type, protocol);
    if (rc >= 0)
        fd_set_kind(rc, FD_SOCKET);
    return rc;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
    socketpair_fn f = get_socketpair();
    int rc = f != NULL ? f(domain, type, protocol, sv)
                       : (int)syscall(SYS_socketpair, domain, type, protocol,
                                      sv);
    if (rc == 0) {
        fd_set_kind(sv[0], FD_SOCKET);
        fd_set_kind(sv[1], FD_SOCKET);
    }
    return rc;
}
