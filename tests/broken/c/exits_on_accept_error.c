/* FAULT-4: exits when accept() fails with anything but EAGAIN.
 *
 * Models an accept loop that knows only "nothing more queued": ECONNABORTED (a client reset
 * in the queue), EPROTO, ENOBUFS, ENFILE and EMFILE are all errors of the moment, about one
 * client or a passing shortage, and each of them ends this server and all its connections.
 */
#include "_echo.h"

static void exit_on_accept_error(int listener, int err) {
    (void)listener;
    errno = err;
    fail("accept4"); /* the defect */
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.accept_failed = exit_on_accept_error}); }
