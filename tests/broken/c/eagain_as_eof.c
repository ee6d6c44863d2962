/* FAULT-2: takes EAGAIN from recv() for the end of the stream and closes the connection.
 *
 * Models a read path written for blocking sockets ("recv() <= 0: the client is gone") and
 * moved under epoll: it trusts that a readable report means recv() returns data, which a
 * spurious wake-up (or a stale event for an fd closed and reused in the same batch) breaks.
 */
#include "_echo.h"

static ssize_t recv_or_eof(int fd, char *buf, size_t len) {
    ssize_t n = recv(fd, buf, len, 0);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : n; /* the defect */
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.recv_some = recv_or_eof}); }
