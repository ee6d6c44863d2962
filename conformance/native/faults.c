/* The kit's fault interposer: loaded into a server with LD_PRELOAD, it makes the C library
 * calls a server makes on its TCP sockets fail or mislead in the ways a kernel may, so that a
 * server's error paths run on purpose (spec: the FAULT area, and ABORT-4/5).
 *
 * Configuration (read once, at load; the format is documented in spec/echo-server.md, "The
 * fault interposer"): ECHO_KIT_FAULTS (a comma-separated list of faults), ECHO_KIT_FAULT_LOG
 * (the file every injection is logged to) and ECHO_KIT_FAULT_KIT (the pid of the kit that
 * launched the server).
 *
 * Rules this file keeps:
 * - Inert unless ECHO_KIT_FAULTS is set and the process is a server the kit launched: not the
 *   kit itself and not in the kit's session (the harness starts every server in a session of
 *   its own). Inert, every wrapper is one test of a global and a tail call to the C library.
 * - Acts on TCP sockets only (SO_PROTOCOL is IPPROTO_TCP): never on files, pipes, the log or
 *   the epoll fd. Connection sockets and listeners are told apart by SO_ACCEPTCONN.
 * - Never tells a lie the kernel could not tell: a spurious readiness report is made only when
 *   the real wait found nothing (and so would have blocked); EINTR comes from the wait call
 *   and only from accept/recv/send calls that may sleep (a blocking socket without
 *   MSG_DONTWAIT); an injected accept() error leaves the queued connection queued.
 * - Bounded where a correct server must come back to rest: spurious reports and accept errors
 *   stop after a budget, so the CPU of the server can be measured after them.
 * - Thread-safe (counters are atomics, the registration table has a spinlock) and, on the
 *   paths a signal handler may take (read, write, send), free of malloc and stdio: log lines
 *   are built by hand and written with one write() to a file opened O_APPEND.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- the real functions ---------------------------------------------------------------- */

#define REAL(name) real_##name
#define DECLARE_REAL(name) static __typeof__(&name) real_##name
DECLARE_REAL(epoll_ctl);
DECLARE_REAL(epoll_wait);
DECLARE_REAL(epoll_pwait);
static int (*real_epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
                                const sigset_t *);
DECLARE_REAL(poll);
DECLARE_REAL(ppoll);
DECLARE_REAL(select);
DECLARE_REAL(pselect);
DECLARE_REAL(send);
DECLARE_REAL(sendto);
DECLARE_REAL(sendmsg);
DECLARE_REAL(write);
DECLARE_REAL(writev);
DECLARE_REAL(recv);
DECLARE_REAL(recvfrom);
DECLARE_REAL(recvmsg);
DECLARE_REAL(read);
DECLARE_REAL(accept);
DECLARE_REAL(accept4);

static void resolve_all(void) {
#define RESOLVE(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)
    RESOLVE(epoll_ctl); RESOLVE(epoll_wait); RESOLVE(epoll_pwait); RESOLVE(epoll_pwait2);
    RESOLVE(poll); RESOLVE(ppoll); RESOLVE(select); RESOLVE(pselect);
    RESOLVE(send); RESOLVE(sendto); RESOLVE(sendmsg); RESOLVE(write); RESOLVE(writev);
    RESOLVE(recv); RESOLVE(recvfrom); RESOLVE(recvmsg); RESOLVE(read);
    RESOLVE(accept); RESOLVE(accept4);
#undef RESOLVE
}

/* Another library's constructor may call us before ours ran: resolve on first use then. */
#define ENSURE(name) \
    do { if (!real_##name) resolve_all(); } while (0)

/* ---- configuration ----------------------------------------------------------------------- */

enum {
    F_HUP_ONCE = 1 << 0, F_HUP_ALWAYS = 1 << 1, F_SHORT_WRITES = 1 << 2, F_SPURIOUS = 1 << 3,
    F_EINTR = 1 << 4, F_ACCEPT_ERRORS = 1 << 5, F_SEND_ERROR = 1 << 6, F_RECV_ERROR = 1 << 7,
};
#define MAX_TARGETS 4
#define MAX_FD 65536

struct target {
    int port, err;
    long hits;
};

static int active;  /* set once, before main(), and never changed: no atomics needed */
static unsigned faults;
static int spurious_budget = 64, accept_budget = 10;
static struct target send_targets[MAX_TARGETS], recv_targets[MAX_TARGETS];
static int n_send_targets, n_recv_targets;
static int log_fd = -1;

static const int accept_errnos[] = {ECONNABORTED, EPROTO, ENOBUFS, ENFILE, EMFILE};

/* ---- logging, without malloc or stdio ----------------------------------------------------- */

struct line {
    char text[256];
    size_t len;
};

static void put(struct line *l, const char *s) {
    while (*s && l->len < sizeof l->text - 1) l->text[l->len++] = *s++;
}

static void put_num(struct line *l, long long v) {
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
    do digits[n++] = (char)('0' + u % 10); while ((u /= 10) && n < 23);
    if (v < 0) put(l, "-");
    while (n) { char c[2] = {digits[--n], 0}; put(l, c); }
}

static void put_hex(struct line *l, unsigned long v) {
    char digits[20];
    int n = 0;
    do digits[n++] = "0123456789abcdef"[v % 16]; while ((v /= 16) && n < 19);
    put(l, "0x");
    while (n) { char c[2] = {digits[--n], 0}; put(l, c); }
}

static const char *errno_name(int err) {
    switch (err) {
    case EINTR: return "EINTR";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNABORTED: return "ECONNABORTED";
    case EPROTO: return "EPROTO";
    case ENOBUFS: return "ENOBUFS";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    default: return "E?";
    }
}

static int errno_of(const char *name, size_t len) {
    static const int known[] = {EPIPE, ECONNRESET, ETIMEDOUT};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        const char *k = errno_name(known[i]);
        if (strlen(k) == len && !strncmp(k, name, len)) return known[i];
    }
    return 0;
}

/* "<pid> <kind> ..." : the first words are what the kit's conformance.native.faults reads. */
static void start_line(struct line *l, const char *kind, const char *call) {
    l->len = 0;
    put_num(l, getpid());
    put(l, " ");
    put(l, kind);
    put(l, " ");
    put(l, call);
}

static void end_line(struct line *l) {
    int saved = errno;
    put(l, "\n");
    if (log_fd >= 0) REAL(write)(log_fd, l->text, l->len);
    errno = saved;
}

/* Injections that come in floods (a short write per send, EINTR every other call) are logged
 * in full at first, then one line in LOG_EVERY with the running count: the log proves the
 * fault fired, it is not a trace. The bounded ones are all logged. */
#define LOG_FIRST 20
#define LOG_EVERY 1000
static int worth_logging(const char *kind, long count) {
    int flood = !strcmp(kind, "short_write") || !strcmp(kind, "eintr");
    return !flood || count <= LOG_FIRST || count % LOG_EVERY == 0;
}

static void log_injection(const char *kind, const char *call, int fd, const char *detail,
                          long count) {
    if (!worth_logging(kind, count)) return;
    struct line l;
    start_line(&l, kind, call);
    put(&l, " fd ");
    put_num(&l, fd);
    if (detail) { put(&l, " "); put(&l, detail); }
    put(&l, " #");
    put_num(&l, count);
    end_line(&l);
}

static void say(const char *why) {
    struct line l = {.len = 0};
    put(&l, "echo-kit faults: ");
    put(&l, why);
    put(&l, "\n");
    if (REAL(write)) REAL(write)(2, l.text, l.len);
}

/* ---- which descriptors we act on ------------------------------------------------------------ */

enum { NOT_TCP = 0, TCP_CONNECTION = 1, TCP_LISTENER = 2 };

static int tcp_kind(int fd) {
    int saved = errno, value = 0, kind = NOT_TCP;
    socklen_t len = sizeof value;
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &len) == 0 &&
        value == IPPROTO_TCP) {
        len = sizeof value;
        kind = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) == 0 && value
                   ? TCP_LISTENER : TCP_CONNECTION;
    }
    errno = saved;
    return kind;
}

static int peer_port(int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int saved = errno, port = -1;
    if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
        if (peer.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
        if (peer.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    }
    errno = saved;
    return port;
}

/* A call that may sleep: only such a call can be interrupted by a signal (EINTR). */
static int may_sleep(int fd, int flags) {
    int saved = errno, fl = fcntl(fd, F_GETFL);
    errno = saved;
    return fl >= 0 && !(fl & O_NONBLOCK) && !(flags & MSG_DONTWAIT);
}

static long bump(long *counter) { return __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED); }

/* ---- epoll registrations: what a fabricated event must carry --------------------------------- */

struct registration {
    int epfd_plus_one; /* 0: none */
    uint32_t events;
    epoll_data_t data;
};
static struct registration regs[MAX_FD];
static int max_reg_fd = -1;
static int regs_lock;

static void lock(void) { while (__atomic_exchange_n(&regs_lock, 1, __ATOMIC_ACQUIRE)) ; }
static void unlock(void) { __atomic_store_n(&regs_lock, 0, __ATOMIC_RELEASE); }

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
    ENSURE(epoll_ctl);
    int result = REAL(epoll_ctl)(epfd, op, fd, event);
    if (!active || result != 0 || fd < 0 || fd >= MAX_FD) return result;
    lock();
    if (op == EPOLL_CTL_DEL) {
        regs[fd].epfd_plus_one = 0;
    } else if (event) {
        regs[fd] = (struct registration){epfd + 1, event->events, event->data};
        if (fd > max_reg_fd) max_reg_fd = fd;
    }
    unlock();
    return result;
}

/* The fd registered in epfd with this data, or -1 (the data is opaque: often the fd, but it
 * may be a pointer, so it is looked up rather than read). */
static int fd_of(int epfd, epoll_data_t data) {
    int found = -1;
    lock();
    for (int fd = 0; fd <= max_reg_fd && found < 0; fd++)
        if (regs[fd].epfd_plus_one == epfd + 1 && regs[fd].data.u64 == data.u64) found = fd;
    unlock();
    return found;
}

/* ---- the first wait of each process ---------------------------------------------------------- */

static pid_t waited_in;

static void note_wait(const char *call) {
    pid_t me = getpid();
    if (__atomic_exchange_n(&waited_in, me, __ATOMIC_RELAXED) == me) return;
    struct line l;
    start_line(&l, "wait", call);
    end_line(&l);
}

/* ---- EINTR -------------------------------------------------------------------------------- */

/* One count per kind of call and descriptor: with one count for all, a server that
 * alternates a wait and an accept would see every accept interrupted, forever; this way the
 * retry of an interrupted call always goes through. */
enum { EINTR_WAIT, EINTR_ACCEPT, EINTR_RECV, EINTR_SEND, EINTR_KINDS };
static long eintr_calls[MAX_FD][EINTR_KINDS];

/* Every second call of each kind on each descriptor that could be interrupted is. */
static int inject_eintr(int kind, const char *call, int fd) {
    long n = bump(&eintr_calls[fd >= 0 && fd < MAX_FD ? fd : 0][kind]);
    if (n % 2) return 0;
    static long injected;
    log_injection("eintr", call, fd, NULL, bump(&injected));
    errno = EINTR;
    return 1;
}

/* ---- hang-ups (ABORT-4/5): HUP or ERR with IN loses IN ------------------------------------------ */

static int hup_rewrites;

static int take_hup_rewrite(void) {
    if (faults & F_HUP_ALWAYS) return __atomic_add_fetch(&hup_rewrites, 1, __ATOMIC_RELAXED);
    int expected = 0;
    return __atomic_compare_exchange_n(&hup_rewrites, &expected, 1, 0, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED) ? 1 : 0;
}

static void log_hup(const char *call, int fd, unsigned before, unsigned after, int count) {
    struct line l;
    start_line(&l, "hup", call);
    put(&l, " fd ");
    put_num(&l, fd);
    put(&l, " ");
    put_hex(&l, before);
    put(&l, " -> ");
    put_hex(&l, after);
    put(&l, " #");
    put_num(&l, count);
    end_line(&l);
}

static void rewrite_epoll_hangups(const char *call, int epfd, struct epoll_event *ev, int n) {
    const uint32_t hangup = EPOLLHUP | EPOLLERR, readable = EPOLLIN | EPOLLRDNORM;
    for (int i = 0; i < n; i++) {
        if (!(ev[i].events & hangup) || !(ev[i].events & readable)) continue;
        int fd = fd_of(epfd, ev[i].data);
        if (tcp_kind(fd) != TCP_CONNECTION) continue;
        int count = take_hup_rewrite();
        if (!count) return;
        log_hup(call, fd, ev[i].events, ev[i].events & ~readable, count);
        ev[i].events &= ~readable;
    }
}

static void rewrite_poll_hangups(const char *call, struct pollfd *fds, nfds_t n) {
    const short hangup = POLLHUP | POLLERR, readable = POLLIN | POLLRDNORM;
    for (nfds_t i = 0; i < n; i++) {
        if (!(fds[i].revents & hangup) || !(fds[i].revents & readable)) continue;
        if (tcp_kind(fds[i].fd) != TCP_CONNECTION) continue;
        int count = take_hup_rewrite();
        if (!count) return;
        log_hup(call, fds[i].fd, (unsigned short)fds[i].revents,
                (unsigned short)(fds[i].revents & ~readable), count);
        fds[i].revents &= ~readable;
    }
}

/* ---- spurious readiness ------------------------------------------------------------------------ */

static long spurious_made;
static unsigned spurious_cursor;

/* Take one unit of the budget, or 0 when it is spent. */
static long take_spurious(void) {
    long n = bump(&spurious_made);
    return n <= spurious_budget ? n : 0;
}

static int spurious_left(void) {
    return __atomic_load_n(&spurious_made, __ATOMIC_RELAXED) < spurious_budget;
}

static void log_spurious(const char *call, int fd, unsigned mask, long count) {
    char detail[32];
    struct line l = {.len = 0};
    put_hex(&l, mask);
    memcpy(detail, l.text, l.len);
    detail[l.len] = 0;
    log_injection("spurious", call, fd, detail, count);
}

/* A connection registered in epfd for IN or OUT, reported as ready though it is not. */
static int fabricate_epoll(const char *call, int epfd, struct epoll_event *ev) {
    int limit = __atomic_load_n(&max_reg_fd, __ATOMIC_RELAXED) + 1;
    unsigned start = __atomic_fetch_add(&spurious_cursor, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < limit; i++) {
        int fd = (int)((start + i) % (unsigned)limit);
        lock();
        struct registration r = regs[fd];
        unlock();
        uint32_t mask = r.events & (EPOLLIN | EPOLLOUT);
        if (r.epfd_plus_one != epfd + 1 || !mask || (r.events & EPOLLONESHOT)) continue;
        if (tcp_kind(fd) != TCP_CONNECTION) continue;
        /* Still registered (a closed fd leaves the interest list without EPOLL_CTL_DEL)? */
        struct epoll_event same = {.events = r.events, .data = r.data};
        int saved = errno;
        int registered = REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &same) == 0;
        errno = saved;
        if (!registered) continue;
        long count = take_spurious();
        if (!count) return 0;
        ev[0].events = mask;
        ev[0].data = r.data;
        log_spurious(call, fd, mask, count);
        return 1;
    }
    return 0;
}

static int fabricate_poll(const char *call, struct pollfd *fds, nfds_t n) {
    unsigned start = __atomic_fetch_add(&spurious_cursor, 1, __ATOMIC_RELAXED);
    for (nfds_t i = 0; i < n; i++) {
        struct pollfd *p = &fds[(start + i) % n];
        short mask = p->events & (POLLIN | POLLOUT);
        if (p->fd < 0 || !mask || tcp_kind(p->fd) != TCP_CONNECTION) continue;
        long count = take_spurious();
        if (!count) return 0;
        for (nfds_t j = 0; j < n; j++) fds[j].revents = 0;
        p->revents = mask;
        log_spurious(call, p->fd, (unsigned short)mask, count);
        return 1;
    }
    return 0;
}

/* The wanted sets are copies taken before the probe: select() overwrites its arguments. */
static int fabricate_select(const char *call, int nfds, const fd_set *want_r,
                            const fd_set *want_w, fd_set *r, fd_set *w, fd_set *x) {
    if (nfds <= 0) return 0;
    unsigned start = __atomic_fetch_add(&spurious_cursor, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < nfds && i < FD_SETSIZE; i++) {
        int fd = (int)((start + i) % (unsigned)nfds);
        int in = want_r && FD_ISSET(fd, want_r), out = want_w && FD_ISSET(fd, want_w);
        if (!(in || out) || tcp_kind(fd) != TCP_CONNECTION) continue;
        long count = take_spurious();
        if (!count) return 0;
        if (r) FD_ZERO(r);
        if (w) FD_ZERO(w);
        if (x) FD_ZERO(x);
        if (in) FD_SET(fd, r);
        if (out) FD_SET(fd, w);
        log_spurious(call, fd, (in ? POLLIN : 0) | (out ? POLLOUT : 0), count);
        return in + out;
    }
    return 0;
}

/* ---- the wait calls ------------------------------------------------------------------------- */

/* One epoll wait of any of the three kinds: zero asks for a non-blocking probe. */
struct epoll_call {
    int kind, epfd, max, timeout;
    struct epoll_event *ev;
    const sigset_t *mask;
    const struct timespec *ts;
};

static int epoll_real(const struct epoll_call *c, int zero) {
    static const struct timespec no_wait = {0, 0};
    switch (c->kind) {
    case 0: return REAL(epoll_wait)(c->epfd, c->ev, c->max, zero ? 0 : c->timeout);
    case 1: return REAL(epoll_pwait)(c->epfd, c->ev, c->max, zero ? 0 : c->timeout, c->mask);
    default:
        if (!REAL(epoll_pwait2)) { errno = ENOSYS; return -1; }
        return REAL(epoll_pwait2)(c->epfd, c->ev, c->max, zero ? &no_wait : c->ts, c->mask);
    }
}

static int epoll_faulty(const char *call, const struct epoll_call *c, int would_block) {
    note_wait(call);
    if ((faults & F_EINTR) && inject_eintr(EINTR_WAIT, call, c->epfd)) return -1;
    int n;
    if ((faults & F_SPURIOUS) && would_block && c->max > 0 && spurious_left()) {
        n = epoll_real(c, 1);
        if (n == 0) n = fabricate_epoll(call, c->epfd, c->ev);
        if (n == 0) n = epoll_real(c, 0);
    } else {
        n = epoll_real(c, 0);
    }
    if (n > 0 && (faults & (F_HUP_ONCE | F_HUP_ALWAYS)))
        rewrite_epoll_hangups(call, c->epfd, c->ev, n);
    return n;
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
    ENSURE(epoll_wait);
    if (!active) return REAL(epoll_wait)(epfd, ev, max, timeout);
    struct epoll_call c = {0, epfd, max, timeout, ev, NULL, NULL};
    return epoll_faulty("epoll_wait", &c, timeout != 0);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
    ENSURE(epoll_pwait);
    if (!active) return REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
    struct epoll_call c = {1, epfd, max, timeout, ev, mask, NULL};
    return epoll_faulty("epoll_pwait", &c, timeout != 0);
}

int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
                 const sigset_t *mask) {
    ENSURE(epoll_wait);
    struct epoll_call c = {2, epfd, max, 0, ev, mask, ts};
    if (!active) return epoll_real(&c, 0);
    return epoll_faulty("epoll_pwait2", &c, !ts || ts->tv_sec || ts->tv_nsec);
}

static int poll_real(struct pollfd *fds, nfds_t n, int timeout, const struct timespec *ts,
                     const sigset_t *mask, int is_ppoll) {
    return is_ppoll ? REAL(ppoll)(fds, n, ts, mask) : REAL(poll)(fds, n, timeout);
}

static int poll_faulty(const char *call, struct pollfd *fds, nfds_t n, int timeout,
                       const struct timespec *ts, const sigset_t *mask, int is_ppoll,
                       int would_block) {
    note_wait(call);
    if ((faults & F_EINTR) && inject_eintr(EINTR_WAIT, call, -1)) return -1;
    int r;
    if ((faults & F_SPURIOUS) && would_block && spurious_left()) {
        static const struct timespec no_wait = {0, 0};
        r = poll_real(fds, n, 0, &no_wait, mask, is_ppoll);
        if (r == 0) r = fabricate_poll(call, fds, n);
        if (r == 0) r = poll_real(fds, n, timeout, ts, mask, is_ppoll);
    } else {
        r = poll_real(fds, n, timeout, ts, mask, is_ppoll);
    }
    if (r > 0 && (faults & (F_HUP_ONCE | F_HUP_ALWAYS))) rewrite_poll_hangups(call, fds, n);
    return r;
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    ENSURE(poll);
    if (!active) return REAL(poll)(fds, n, timeout);
    return poll_faulty("poll", fds, n, timeout, NULL, NULL, 0, timeout != 0);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
    (void)fdslen;
    return poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask) {
    ENSURE(ppoll);
    if (!active) return REAL(ppoll)(fds, n, ts, mask);
    return poll_faulty("ppoll", fds, n, 0, ts, mask, 1, !ts || ts->tv_sec || ts->tv_nsec);
}

/* select and pselect: a probe with no wait on copies of the sets, then the real wait. */
static int select_faulty(const char *call, int nfds, fd_set *r, fd_set *w, fd_set *x,
                         struct timeval *tv, const struct timespec *ts, const sigset_t *mask,
                         int is_pselect) {
    note_wait(call);
    if ((faults & F_EINTR) && inject_eintr(EINTR_WAIT, call, -1)) return -1;
    int would_block = is_pselect ? (!ts || ts->tv_sec || ts->tv_nsec)
                                 : (!tv || tv->tv_sec || tv->tv_usec);
    if ((faults & F_SPURIOUS) && would_block && spurious_left() && nfds <= FD_SETSIZE) {
        fd_set want_r, want_w, want_x;
        if (r) want_r = *r;
        if (w) want_w = *w;
        if (x) want_x = *x;
        struct timeval tv0 = {0, 0};
        struct timespec ts0 = {0, 0};
        int got = is_pselect ? REAL(pselect)(nfds, r, w, x, &ts0, mask)
                             : REAL(select)(nfds, r, w, x, &tv0);
        if (got != 0) return got;
        got = fabricate_select(call, nfds, r ? &want_r : NULL, w ? &want_w : NULL, r, w, x);
        if (got) return got;
        if (r) *r = want_r;
        if (w) *w = want_w;
        if (x) *x = want_x;
    }
    return is_pselect ? REAL(pselect)(nfds, r, w, x, ts, mask) : REAL(select)(nfds, r, w, x, tv);
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv) {
    ENSURE(select);
    if (!active) return REAL(select)(nfds, r, w, x, tv);
    return select_faulty("select", nfds, r, w, x, tv, NULL, NULL, 0);
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
            const sigset_t *mask) {
    ENSURE(pselect);
    if (!active) return REAL(pselect)(nfds, r, w, x, ts, mask);
    return select_faulty("pselect", nfds, r, w, x, NULL, ts, mask, 1);
}

/* ---- accept -------------------------------------------------------------------------------- */

static long accept_calls, accept_injected;

/* Whether a connection is queued on the listener, waiting for one as a blocking accept() would.
 * -1: the wait failed (EINTR), with errno set. */
static int connection_queued(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int blocking = may_sleep(fd, 0);
    int r = REAL(poll)(&p, 1, blocking ? -1 : 0);
    return r < 0 ? -1 : r > 0;
}

/* 1 if the call is to fail (errno set), 0 to pass it on, -1 if the wait for a queued
 * connection itself failed. */
static int accept_fault(const char *call, int fd) {
    if (!(faults & (F_ACCEPT_ERRORS | F_EINTR)) || tcp_kind(fd) != TCP_LISTENER) return 0;
    if ((faults & F_EINTR) && may_sleep(fd, 0) && inject_eintr(EINTR_ACCEPT, call, fd)) return 1;
    if (!(faults & F_ACCEPT_ERRORS) ||
        __atomic_load_n(&accept_injected, __ATOMIC_RELAXED) >= accept_budget)
        return 0;
    int queued = connection_queued(fd);
    if (queued <= 0) return queued;
    /* Every other call that finds a connection queued fails, cycling through the errors. */
    if (bump(&accept_calls) % 2 == 0) return 0;
    long n = bump(&accept_injected);
    if (n > accept_budget) return 0;
    int err = accept_errnos[(n - 1) % (long)(sizeof accept_errnos / sizeof *accept_errnos)];
    log_injection("accept_error", call, fd, errno_name(err), n);
    errno = err;
    return 1;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    ENSURE(accept);
    if (active && accept_fault("accept", fd)) return -1;
    return REAL(accept)(fd, addr, len);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    ENSURE(accept4);
    if (active && accept_fault("accept4", fd)) return -1;
    return REAL(accept4)(fd, addr, len, flags);
}

/* ---- send and write ------------------------------------------------------------------------ */

static long short_cycle, short_injected;

static struct target *target_of(struct target *targets, int n, int fd) {
    if (!n) return NULL;
    int port = peer_port(fd);
    for (int i = 0; i < n; i++)
        if (targets[i].port == port) return &targets[i];
    return NULL;
}

/* What a send-like call on fd does before the real call: -1 fail (errno set), else the most
 * bytes it may move (SIZE_MAX: no limit). */
static size_t send_fault(const char *call, int fd, size_t len, int flags, int *fail,
                         int may_signal) {
    *fail = 0;
    if (tcp_kind(fd) != TCP_CONNECTION) return SIZE_MAX;
    if (faults & F_SEND_ERROR) {
        struct target *t = target_of(send_targets, n_send_targets, fd);
        if (t) {
            /* ECONNRESET is reported once; every later send meets EPIPE, as after a reset. */
            long hit = bump(&t->hits);
            int err = t->err == ECONNRESET && hit == 1 ? ECONNRESET : EPIPE;
            char detail[48];
            struct line d = {.len = 0};
            put(&d, "port ");
            put_num(&d, t->port);
            put(&d, " ");
            put(&d, errno_name(err));
            memcpy(detail, d.text, d.len);
            detail[d.len] = 0;
            log_injection("send_error", call, fd, detail, hit);
            if (err == EPIPE && may_signal && !(flags & MSG_NOSIGNAL)) raise(SIGPIPE);
            *fail = 1;
            errno = err;
            return 0;
        }
    }
    if ((faults & F_EINTR) && may_sleep(fd, flags) && inject_eintr(EINTR_SEND, call, fd)) {
        *fail = 1;
        return 0;
    }
    if (faults & F_SHORT_WRITES) {
        size_t most = (size_t)(bump(&short_cycle) % 7) + 1;
        if (len > most) {
            log_injection("short_write", call, fd, NULL, bump(&short_injected));
            return most;
        }
    }
    return SIZE_MAX;
}

static size_t iov_total(const struct iovec *iov, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    return total;
}

/* The first `most` bytes of iov, in out (at most 8 entries: `most` is at most 7). */
static int iov_prefix(const struct iovec *iov, int n, size_t most, struct iovec *out) {
    int k = 0;
    for (int i = 0; i < n && most && k < 8; i++) {
        if (!iov[i].iov_len) continue;
        size_t take = iov[i].iov_len < most ? iov[i].iov_len : most;
        out[k].iov_base = iov[i].iov_base;
        out[k++].iov_len = take;
        most -= take;
    }
    return k;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    ENSURE(send);
    if (!active) return REAL(send)(fd, buf, len, flags);
    int fail;
    size_t most = send_fault("send", fd, len, flags, &fail, 1);
    if (fail) return -1;
    return REAL(send)(fd, buf, len < most ? len : most, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen) {
    ENSURE(sendto);
    if (!active) return REAL(sendto)(fd, buf, len, flags, to, tolen);
    int fail;
    size_t most = send_fault("sendto", fd, len, flags, &fail, 1);
    if (fail) return -1;
    return REAL(sendto)(fd, buf, len < most ? len : most, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    ENSURE(sendmsg);
    if (!active) return REAL(sendmsg)(fd, msg, flags);
    int fail;
    size_t len = iov_total(msg->msg_iov, (int)msg->msg_iovlen);
    size_t most = send_fault("sendmsg", fd, len, flags, &fail, 1);
    if (fail) return -1;
    if (len <= most) return REAL(sendmsg)(fd, msg, flags);
    struct iovec prefix[8];
    struct msghdr shorter = *msg;
    shorter.msg_iov = prefix;
    shorter.msg_iovlen = iov_prefix(msg->msg_iov, (int)msg->msg_iovlen, most, prefix);
    return REAL(sendmsg)(fd, &shorter, flags);
}

ssize_t write(int fd, const void *buf, size_t len) {
    ENSURE(write);
    if (!active) return REAL(write)(fd, buf, len);
    int fail;
    size_t most = send_fault("write", fd, len, 0, &fail, 1);
    if (fail) return -1;
    return REAL(write)(fd, buf, len < most ? len : most);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
    ENSURE(writev);
    if (!active) return REAL(writev)(fd, iov, n);
    int fail;
    size_t len = iov_total(iov, n);
    size_t most = send_fault("writev", fd, len, 0, &fail, 1);
    if (fail) return -1;
    if (len <= most) return REAL(writev)(fd, iov, n);
    struct iovec prefix[8];
    return REAL(writev)(fd, prefix, iov_prefix(iov, n, most, prefix));
}

/* ---- recv and read ---------------------------------------------------------------------------- */

/* What a recv-like call on fd does: 1 fail (errno set), 2 report EOF, 0 pass it on. */
static int recv_fault(const char *call, int fd, int flags) {
    if (tcp_kind(fd) != TCP_CONNECTION) return 0;
    if (faults & F_RECV_ERROR) {
        struct target *t = target_of(recv_targets, n_recv_targets, fd);
        if (t) {
            /* A socket error is reported once; later reads find EOF, as after a reset. */
            long hit = bump(&t->hits);
            if (hit > 1) return 2;
            log_injection("recv_error", call, fd, errno_name(t->err), hit);
            errno = t->err;
            return 1;
        }
    }
    if ((faults & F_EINTR) && may_sleep(fd, flags) && inject_eintr(EINTR_RECV, call, fd)) return 1;
    return 0;
}

#define RECV_BODY(call, fd, flags, real_call) \
    do { \
        if (active) { \
            int fault = recv_fault(call, fd, flags); \
            if (fault == 1) return -1; \
            if (fault == 2) return 0; \
        } \
        return real_call; \
    } while (0)

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ENSURE(recv);
    RECV_BODY("recv", fd, flags, REAL(recv)(fd, buf, len, flags));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                 socklen_t *fromlen) {
    ENSURE(recvfrom);
    RECV_BODY("recvfrom", fd, flags, REAL(recvfrom)(fd, buf, len, flags, from, fromlen));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    ENSURE(recvmsg);
    RECV_BODY("recvmsg", fd, flags, REAL(recvmsg)(fd, msg, flags));
}

ssize_t read(int fd, void *buf, size_t len) {
    ENSURE(read);
    RECV_BODY("read", fd, 0, REAL(read)(fd, buf, len));
}

/* The fortified entry points (_FORTIFY_SOURCE) go through the same wrappers. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen) {
    if (len > buflen) abort();
    return read(fd, buf, len);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
    if (len > buflen) abort();
    return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *from, socklen_t *fromlen) {
    if (len > buflen) abort();
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

/* ---- start-up: parse the configuration, or stay inert -------------------------------------------- */

static int parse_target(const char *value, size_t len, struct target *t) {
    const char *at = memchr(value, '@', len);
    if (!at) return 0;
    t->err = errno_of(value, (size_t)(at - value));
    t->port = atoi(at + 1);
    t->hits = 0;
    return t->err && t->port > 0 && t->port < 65536;
}

static int parse_item(const char *item, size_t len) {
    const char *eq = memchr(item, '=', len);
    size_t key_len = eq ? (size_t)(eq - item) : len;
    const char *value = eq ? eq + 1 : "";
    size_t value_len = eq ? len - key_len - 1 : 0;
#define KEY(k) (key_len == strlen(k) && !strncmp(item, k, key_len))
#define VALUE(v) (value_len == strlen(v) && !strncmp(value, v, value_len))
    if (KEY("hup") && VALUE("once")) faults |= F_HUP_ONCE;
    else if (KEY("hup") && VALUE("always")) faults |= F_HUP_ALWAYS;
    else if (KEY("short_writes") && !eq) faults |= F_SHORT_WRITES;
    else if (KEY("eintr") && !eq) faults |= F_EINTR;
    else if (KEY("spurious")) {
        faults |= F_SPURIOUS;
        if (eq && (spurious_budget = atoi(value)) <= 0) return 0;
    } else if (KEY("accept_errors")) {
        faults |= F_ACCEPT_ERRORS;
        if (eq && (accept_budget = atoi(value)) <= 0) return 0;
    } else if (KEY("send_error") && n_send_targets < MAX_TARGETS) {
        faults |= F_SEND_ERROR;
        return parse_target(value, value_len, &send_targets[n_send_targets++]);
    } else if (KEY("recv_error") && n_recv_targets < MAX_TARGETS) {
        faults |= F_RECV_ERROR;
        return parse_target(value, value_len, &recv_targets[n_recv_targets++]);
    } else {
        return 0;
    }
    return 1;
#undef KEY
#undef VALUE
}

__attribute__((constructor)) static void start(void) {
    resolve_all();
    const char *config = getenv("ECHO_KIT_FAULTS");
    if (!config || !*config) return;
    const char *kit = getenv("ECHO_KIT_FAULT_KIT");
    if (!kit || atoi(kit) <= 0) {
        say("ECHO_KIT_FAULTS is set but ECHO_KIT_FAULT_KIT is not: this process was not "
            "launched by the kit's harness, so no fault is injected (inert)");
        return;
    }
    pid_t kit_pid = atoi(kit), kit_session = getsid(kit_pid);
    if (kit_pid == getpid() || kit_session < 0 || getsid(0) == kit_session) {
        say("loaded into the kit itself or a process of its session: the interposer acts only "
            "in servers the harness launches in a session of their own, so no fault is "
            "injected here (inert); unset LD_PRELOAD in the kit's environment");
        return;
    }
    for (const char *item = config; *item;) {
        const char *end = strchr(item, ',');
        size_t len = end ? (size_t)(end - item) : strlen(item);
        if (len && !parse_item(item, len)) {
            say("ECHO_KIT_FAULTS: unknown or malformed item (see spec/echo-server.md, "
                "\"The fault interposer\"):");
            say(item);
            _exit(2);
        }
        item += len + (end ? 1 : 0);
    }
    const char *log = getenv("ECHO_KIT_FAULT_LOG");
    if (!log || (log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        say("ECHO_KIT_FAULT_LOG is not set or cannot be opened: no fault is injected");
        return;
    }
    struct line l;
    start_line(&l, "loaded", config);
    end_line(&l);
    active = 1;
}
