/* FAULT-6: closes a connection on ECONNRESET from recv(), but exits on any other recv() error.
 *
 * Models a read path that lists the errors its author met in testing (a reset peer) and
 * treats the rest as impossible: ETIMEDOUT (keepalive or TCP_USER_TIMEOUT gave up on the
 * peer), EHOSTUNREACH and the like end the whole server instead of one connection.
 */
#include "_echo.h"

static ssize_t recv_or_exit(int fd, char *buf, size_t len) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNRESET) fail("recv");
    if (n < 0 && errno == EINTR) errno = EAGAIN; /* level-triggered: it is reported again */
    return n;
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.recv_some = recv_or_exit}); }
