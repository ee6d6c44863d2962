/* FAULT-1: counts every send() as complete: whatever the kernel did not take is dropped.
 *
 * Models `send(fd, buf, len, 0);` with the return value unchecked, the commonest C echo bug:
 * on loopback a send() rarely takes less than it is given, so it passes small echoes and
 * loses bytes once sends are short (a full send buffer, or the kit's short-write fault).
 */
#include "_echo.h"

static ssize_t send_all_or_nothing(int fd, const char *buf, size_t len) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return -1;
    return (ssize_t)len; /* the defect: n may be less than len, and the rest is forgotten */
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.send_some = send_all_or_nothing}); }
