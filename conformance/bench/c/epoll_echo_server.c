/* Baseline for conformance.bench: a plain level-triggered epoll echo server in C.
 *
 * Usage: epoll_echo_server --host H --port P   (port 0 lets the kernel pick)
 * Prints "LISTENING <host> <port>" once it listens, as the bundled servers do.
 *
 * What a careful C server does and nothing more: one recv() into a shared buffer and one
 * send() straight back per readable event; only bytes the kernel would not take are copied to
 * the connection, which then stops reading and waits for EPOLLOUT until they are gone
 * (backpressure). EOF is answered with EOF once nothing is owed; errors close the connection.
 * Out of descriptors, a queued client is accepted with a spare one and closed: left queued, it
 * would keep the listener ready and the loop spinning (spec RES-5).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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

#define CHUNK (64 * 1024)

typedef struct {
    char *owed;   /* bytes received and not yet sent, or NULL */
    size_t off, len;
} conn_t;

static conn_t **conns; /* indexed by fd */
static char buf[CHUNK];
static int spare_fd; /* given up to refuse a client when accept() fails with EMFILE */

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static void watch(int ep, int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    free(conns[fd]->owed);
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

/* Send what is owed; returns -1 on error, else how many bytes are still owed. */
static ssize_t flush(int fd, conn_t *k) {
    while (k->len > k->off) {
        ssize_t n = send(fd, k->owed + k->off, k->len - k->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? (ssize_t)(k->len - k->off) : -1;
        k->off += n;
    }
    free(k->owed);
    k->owed = NULL, k->off = k->len = 0;
    return 0;
}

static void on_readable(int ep, int fd, conn_t *k) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN) drop(ep, fd);
        return;
    }
    if (n == 0) {
        drop(ep, fd); /* nothing is owed here: an owing connection is not read */
        return;
    }
    ssize_t sent = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN) {
        drop(ep, fd);
        return;
    }
    if (sent < 0) sent = 0;
    if (sent < n) {
        k->owed = malloc(n - sent);
        if (!k->owed) fail("malloc");
        memcpy(k->owed, buf + sent, n - sent);
        k->off = 0, k->len = n - sent;
        watch(ep, fd, EPOLLOUT); /* stop reading until the client takes its echo */
    }
}

static void refuse_one(int lfd) {
    close(spare_fd);
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) close(fd);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_writable(int ep, int fd, conn_t *k) {
    ssize_t left = flush(fd, k);
    if (left < 0) drop(ep, fd);
    else if (left == 0) watch(ep, fd, EPOLLIN);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *port = "0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = argv[i + 1];
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) fail("getrlimit");
    conns = calloc(rl.rlim_cur, sizeof *conns);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "cannot resolve %s:%s: %s\n", host, port, gai_strerror(rc));
        return 1;
    }
    int lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0) fail("bind");
    if (listen(lfd, SOMAXCONN) < 0) fail("listen");
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(lfd, (struct sockaddr *)&bound, &blen);
    int bport = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    printf("LISTENING %s %d\n", host, bport);
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int ready = epoll_wait(ep, events, 256, -1);
        if (ready < 0 && errno != EINTR) fail("epoll_wait");
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if ((rlim_t)cfd >= rl.rlim_cur || !(conns[cfd] = calloc(1, sizeof(conn_t)))) {
                        close(cfd);
                        continue;
                    }
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
                if (errno == EMFILE || errno == ENFILE) refuse_one(lfd);
                continue;
            }
            conn_t *k = conns[fd];
            if (!k) continue; /* closed earlier in this batch */
            if (events[i].events & EPOLLOUT) on_writable(ep, fd, k);
            else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(ep, fd, k);
        }
    }
}
