/* FAULT-5: sends without MSG_NOSIGNAL and leaves SIGPIPE at its default: EPIPE kills it.
 *
 * Models the server that handles every send() error correctly and still dies: on a socket
 * whose peer is gone, the kernel raises SIGPIPE before send() can return EPIPE, and the
 * default action of SIGPIPE ends the process. MSG_NOSIGNAL (or SIG_IGN) is the fix.
 */
#include "_echo.h"

static ssize_t send_with_sigpipe(int fd, const char *buf, size_t len) {
    ssize_t n = send(fd, buf, len, 0); /* the defect: no MSG_NOSIGNAL */
    return n < 0 && errno == EAGAIN ? 0 : n;
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.send_some = send_with_sigpipe}); }
