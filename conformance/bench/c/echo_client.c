/* Closed-loop echo load generator for conformance.bench: checks every echoed byte.
 *
 * Usage: echo_client --host H --port P [--connections N] [--size BYTES] [--duration S]
 *                    [--warmup S] [--idle N] [--bulk]
 *
 * Each of N connections sends a message of --size bytes and waits for all of it to come back
 * before sending the next (closed loop); --bulk instead streams on one connection with a
 * bounded amount in flight. Every byte received is compared with the byte sent at the same
 * offset of that connection's stream: a mismatch, an EOF or a reset is an error (exit 3).
 * --idle N first opens N more connections, each checked with one echoed byte, and leaves them
 * idle for the run.
 *
 * Protocol with the caller, so that it measures the server over the timed window only: after
 * set-up and warm-up the client prints "ready" and waits for a line on stdin; it then runs for
 * --duration seconds, lets the round trips in flight finish, prints "done" and waits for a
 * second line; then it prints one JSON object with the figures and exits 0. bytes_verified
 * counts the echoed bytes of the timed window, every one compared with what was sent;
 * client_cpu is the CPU time the client itself used then (near 1 s per second: it saturates).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_LEN 65521 /* prime: a connection's stream does not line up with message sizes */
#define IO_CHUNK (256 * 1024)
#define BULK_WINDOW (4 * 1024 * 1024)
#define STALL_SECONDS 10.0
#define IDLE_BATCH 256
#define MAX_SAMPLES (8 * 1024 * 1024)

typedef struct {
    int fd;
    uint64_t tx, rx;        /* bytes of this connection's stream sent and checked */
    uint64_t goal;          /* stream offset the current round trip ends at */
    int writing;            /* EPOLLOUT registered */
    double started;         /* when the current round trip began */
} conn_t;

static unsigned char pattern[2 * PATTERN_LEN + IO_CHUNK];
static unsigned char inbuf[IO_CHUNK];
static double *samples;
static size_t nsamples;

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "echo_client: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(code);
}

static double cpu_used(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Byte k of connection c's stream is pattern[(k + c * 7919) % PATTERN_LEN]. */
static const unsigned char *expected(int c, uint64_t offset) {
    return pattern + (offset + (uint64_t)c * 7919) % PATTERN_LEN;
}

static int connect_to(const struct sockaddr_storage *addr, socklen_t len) {
    int fd = socket(addr->ss_family, SOCK_STREAM, 0);
    if (fd < 0) die(2, "socket: %s (raise RLIMIT_NOFILE for more connections)", strerror(errno));
    if (connect(fd, (const struct sockaddr *)addr, len) < 0)
        die(2, "connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void check(int c, uint64_t offset, const unsigned char *data, size_t n) {
    while (n > 0) {
        size_t part = n < PATTERN_LEN ? n : PATTERN_LEN;
        const unsigned char *want = expected(c, offset);
        if (memcmp(want, data, part) != 0) {
            size_t i = 0;
            while (want[i] == data[i]) i++;
            die(3, "echo mismatch on connection %d at byte %llu: sent 0x%02x, got 0x%02x", c,
                (unsigned long long)(offset + i), want[i], data[i]);
        }
        offset += part, data += part, n -= part;
    }
}

static void set_writing(int ep, conn_t *k, int c, int on) {
    if (k->writing == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev) < 0) die(2, "epoll_ctl: %s", strerror(errno));
    k->writing = on;
}

/* Send what the current goal still wants; the kernel may take part of it. */
static void send_some(int ep, conn_t *k, int c) {
    while (k->tx < k->goal) {
        uint64_t left = k->goal - k->tx;
        size_t n = left < IO_CHUNK ? left : IO_CHUNK;
        ssize_t sent = send(k->fd, expected(c, k->tx), n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EAGAIN) break;
            die(3, "send on connection %d: %s", c, strerror(errno));
        }
        k->tx += sent;
    }
    set_writing(ep, k, c, k->tx < k->goal);
}

/* Read and check what arrived; returns bytes read (0 if none were waiting). */
static size_t receive_some(conn_t *k, int c) {
    ssize_t n = recv(k->fd, inbuf, sizeof inbuf, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN) return 0;
        die(3, "recv on connection %d: %s", c, strerror(errno));
    }
    if (n == 0) die(3, "connection %d closed by the server after %llu bytes", c,
                    (unsigned long long)k->rx);
    uint64_t owed = k->tx - k->rx; /* the bytes sent are compared first: they say more */
    check(c, k->rx, inbuf, (uint64_t)n < owed ? (size_t)n : owed);
    if ((uint64_t)n > owed) die(3, "connection %d got %llu bytes more than it sent", c,
                                (unsigned long long)(n - owed));
    k->rx += n;
    return n;
}

typedef struct {
    uint64_t round_trips, bytes;
    double seconds;
} tally_t;

/* Drive all connections until `until` (no new round trips after it), then drain. */
static tally_t run(int ep, conn_t *conns, int n, uint64_t size, int bulk, double until,
                   int record) {
    tally_t t = {0, 0, 0};
    double start = now(), last_progress = start;
    int busy = 0;
    for (int c = 0; c < n; c++) {
        conns[c].goal = conns[c].tx + (bulk ? BULK_WINDOW : size);
        conns[c].started = now();
        send_some(ep, &conns[c], c);
        busy++;
    }
    struct epoll_event events[256];
    while (busy > 0) {
        int ready = epoll_wait(ep, events, 256, 100);
        if (ready < 0 && errno != EINTR) die(2, "epoll_wait: %s", strerror(errno));
        double t_now = now();
        if (ready <= 0) {
            if (t_now - last_progress > STALL_SECONDS)
                die(3, "no echo for %.0f s: the server stalled", STALL_SECONDS);
            continue;
        }
        last_progress = t_now;
        int more = t_now < until;
        for (int i = 0; i < ready; i++) {
            int c = events[i].data.u32;
            conn_t *k = &conns[c];
            if (events[i].events & EPOLLOUT) send_some(ep, k, c);
            if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            size_t got = receive_some(k, c);
            t.bytes += got;
            if (bulk) {
                if (more) k->goal = k->rx + BULK_WINDOW;
                else if (k->rx == k->tx) { k->goal = k->tx; busy--; continue; }
                send_some(ep, k, c);
            } else if (k->rx == k->goal) {
                t.round_trips++;
                if (record && nsamples < MAX_SAMPLES) samples[nsamples++] = t_now - k->started;
                if (more) {
                    k->goal += size;
                    k->started = t_now;
                    send_some(ep, k, c);
                } else {
                    busy--;
                }
            }
        }
    }
    t.seconds = now() - start;
    return t;
}

/* Open `count` connections, each proven served by one echoed byte, in batches so that the
 * listen backlog never overflows (an overflow costs a 1 s SYN retransmit). */
static void open_idle(const struct sockaddr_storage *addr, socklen_t len, int count) {
    int fds[IDLE_BATCH];
    for (int done = 0; done < count;) {
        int batch = count - done < IDLE_BATCH ? count - done : IDLE_BATCH;
        for (int i = 0; i < batch; i++) {
            fds[i] = connect_to(addr, len);
            if (send(fds[i], "i", 1, MSG_NOSIGNAL) != 1)
                die(3, "idle connection %d: send: %s", done + i, strerror(errno));
        }
        for (int i = 0; i < batch; i++) {
            struct timeval tv = {.tv_sec = (int)STALL_SECONDS};
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            char b;
            ssize_t got = recv(fds[i], &b, 1, 0);
            if (got != 1 || b != 'i')
                die(3, "idle connection %d of %d was not served (%s): the server refused or "
                    "closed it", done + i + 1, count,
                    got == 0 ? "EOF" : got < 0 ? strerror(errno) : "wrong byte");
        }
        done += batch;
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double p) {
    if (nsamples == 0) return 0;
    size_t i = (size_t)(p * (nsamples - 1) + 0.5);
    return samples[i] * 1e6;
}

static void wait_line(const char *say) {
    printf("%s\n", say);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) die(2, "stdin closed before the go-ahead");
}

static void usage(void) {
    die(2, "usage: echo_client --host H --port P [--connections N] [--size BYTES] "
           "[--duration S] [--warmup S] [--idle N] [--bulk]");
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *port = NULL;
    int n = 1, idle = 0, bulk = 0;
    uint64_t size = 1024;
    double duration = 1.0, warmup = 0.2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bulk")) { bulk = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = v;
        else if (!strcmp(a, "--connections")) n = atoi(v);
        else if (!strcmp(a, "--size")) size = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--idle")) idle = atoi(v);
        else usage();
        i++;
    }
    if (!port || n < 1 || size < 1 || duration <= 0 || idle < 0) usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) die(2, "cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
    struct sockaddr_storage addr;
    socklen_t len = ai->ai_addrlen;
    memcpy(&addr, ai->ai_addr, len);
    freeaddrinfo(ai);

    srand(1);
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = i < PATTERN_LEN ? (unsigned char)(rand() >> 7) : pattern[i - PATTERN_LEN];
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    if (!samples) die(2, "out of memory");

    open_idle(&addr, len, idle);
    int ep = epoll_create1(0);
    conn_t *conns = calloc(n, sizeof *conns);
    for (int c = 0; c < n; c++) {
        conns[c].fd = connect_to(&addr, len);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &ev) < 0)
            die(2, "epoll_ctl: %s", strerror(errno));
    }
    if (warmup > 0) run(ep, conns, n, size, bulk, now() + warmup, 0);
    wait_line("ready");
    double cpu_before = cpu_used();
    tally_t t = run(ep, conns, n, size, bulk, now() + duration, 1);
    double client_cpu = cpu_used() - cpu_before;
    wait_line("done");

    qsort(samples, nsamples, sizeof *samples, by_value);
    printf("{\"round_trips\": %llu, \"bytes_verified\": %llu, \"seconds\": %.6f, "
           "\"client_cpu\": %.6f, \"connections\": %d, \"idle\": %d, \"size\": %llu, "
           "\"bulk\": %s, \"latency_us\": {\"samples\": %zu, \"p50\": %.2f, "
           "\"p99\": %.2f, \"max\": %.2f}}\n",
           (unsigned long long)t.round_trips, (unsigned long long)t.bytes, t.seconds, client_cpu,
           n, idle, (unsigned long long)size, bulk ? "true" : "false", nsamples,
           percentile(0.50), percentile(0.99), percentile(1.0));
    return 0;
}
