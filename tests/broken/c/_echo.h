/* A correct level-triggered epoll echo server in C, built of hooks, so that a broken server is
 * one override (the C twin of ../_base.py). Each server here is one .c file that includes this
 * header and passes serve() the hook it breaks; the kit compiles it on first use.
 *
 * Rules the loop keeps (each broken server breaks one):
 * 1. wait: epoll_wait() failing with EINTR is no error: a signal (even SIGSTOP then SIGCONT,
 *    signal(7)) interrupts it whatever the handlers.
 * 2. accept_failed: an accept() error concerns the client being accepted, never the server;
 *    out of descriptors (EMFILE, ENFILE) the queued client is refused with a spare fd, else it
 *    keeps the listener ready and the loop spins.
 * 3. send_some: send() may take any part of what it is given; the rest stays owed, and the
 *    connection watches EPOLLOUT until it is gone. MSG_NOSIGNAL: EPIPE is an error, not death.
 * 4. recv_some: EAGAIN (and EINTR) from recv() mean "nothing now", never EOF or an error.
 * 5. Any other error from recv() or send() closes that connection only.
 * 6. A connection owed HIGH_WATER bytes is not read from until it drains (spec MUX-2); after
 *    EOF it is not read from, and is closed once everything owed is sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 65536
#define HIGH_WATER (1 << 20)

typedef struct {
    char *owed; /* received, not yet sent: owed[off..len) */
    size_t off, len, cap;
    int eof; /* the client sent FIN: flush, then close */
} conn_t;

/* The overridable steps. Each returns what the loop needs; a NULL hook is the correct one. */
typedef struct {
    int (*wait)(int ep, struct epoll_event *events, int max); /* how many ready, >= 0 */
    void (*accept_failed)(int listener, int err);              /* accept4() failed with err */
    ssize_t (*send_some)(int fd, const char *buf, size_t len); /* bytes taken, or -1 */
    ssize_t (*recv_some)(int fd, char *buf, size_t len);       /* 0 is EOF; -1 EAGAIN: none */
} hooks_t;

static conn_t **conns; /* indexed by fd */
static int spare_fd = -1;

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static int wait_events(int ep, struct epoll_event *events, int max) {
    int n = epoll_wait(ep, events, max, -1);
    if (n < 0 && errno != EINTR) fail("epoll_wait");
    return n < 0 ? 0 : n;
}

static void refuse_queued_client(int listener, int err) {
    if (err != EMFILE && err != ENFILE) return; /* ECONNABORTED, ENOBUFS, ...: that client only */
    close(spare_fd);
    int fd = accept(listener, NULL, NULL);
    if (fd >= 0) close(fd);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static ssize_t send_nosignal(int fd, const char *buf, size_t len) {
    ssize_t n;
    do n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 && errno == EAGAIN ? 0 : n;
}

static ssize_t recv_retrying(int fd, char *buf, size_t len) {
    ssize_t n;
    do n = recv(fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

static void watch(int ep, int fd, int op) {
    conn_t *c = conns[fd];
    size_t owed = c->len - c->off;
    unsigned events = (c->eof || owed >= HIGH_WATER ? 0 : EPOLLIN) | (owed ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, op, fd, &ev);
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    free(conns[fd]->owed);
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

/* Send what is owed until done or the kernel takes nothing; close when finished or failed. */
static void flush(const hooks_t *h, int ep, int fd) {
    conn_t *c = conns[fd];
    while (c->off < c->len) {
        ssize_t n = h->send_some(fd, c->owed + c->off, c->len - c->off);
        if (n < 0) {
            drop(ep, fd);
            return;
        }
        if (n == 0) break;
        c->off += n;
    }
    if (c->off == c->len) c->off = c->len = 0;
    if (c->eof && c->len == 0) drop(ep, fd);
    else watch(ep, fd, EPOLL_CTL_MOD);
}

static void receive(const hooks_t *h, int ep, int fd) {
    conn_t *c = conns[fd];
    if (c->cap - c->len < CHUNK) {
        memmove(c->owed, c->owed + c->off, c->len - c->off);
        c->len -= c->off, c->off = 0;
        if (c->cap - c->len < CHUNK && !(c->owed = realloc(c->owed, c->cap = c->len + CHUNK)))
            fail("realloc");
    }
    ssize_t n = h->recv_some(fd, c->owed + c->len, CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
        drop(ep, fd);
        return;
    }
    if (n == 0) c->eof = 1;
    c->len += n;
    flush(h, ep, fd);
}

static void accept_all(const hooks_t *h, int ep, int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) h->accept_failed(listener, errno);
            return; /* level-triggered: a client still queued wakes the next wait */
        }
        if (!(conns[fd] = calloc(1, sizeof(conn_t)))) fail("calloc");
        watch(ep, fd, EPOLL_CTL_ADD);
    }
}

/* Parse --host/--port, listen, print the ready line. */
static int open_listener(int argc, char **argv) {
    const char *host = "127.0.0.1", *port = "0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = argv[i + 1];
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0) fail("getaddrinfo");
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) fail("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) fail("bind");
    if (listen(fd, SOMAXCONN) < 0) fail("listen");
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &len);
    char name[NI_MAXHOST], service[NI_MAXSERV];
    getnameinfo((struct sockaddr *)&bound, len, name, sizeof name, service, sizeof service,
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("LISTENING %s %s\n", host, service);
    fflush(stdout);
    return fd;
}

static _Noreturn void serve(int argc, char **argv, hooks_t h) {
    if (!h.wait) h.wait = wait_events;
    if (!h.accept_failed) h.accept_failed = refuse_queued_client;
    if (!h.send_some) h.send_some = send_nosignal;
    if (!h.recv_some) h.recv_some = recv_retrying;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) fail("getrlimit");
    if (!(conns = calloc(rl.rlim_cur, sizeof *conns))) fail("calloc");
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int listener = open_listener(argc, argv), ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    for (;;) {
        int ready = h.wait(ep, events, 256);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) accept_all(&h, ep, listener);
            else if (conns[fd] && (events[i].events & EPOLLOUT)) flush(&h, ep, fd);
            else if (conns[fd]) receive(&h, ep, fd); /* IN, or HUP/ERR alone: recv() says */
        }
    }
}
