/* FAULT-3: exits when epoll_wait() fails, EINTR included.
 *
 * Models `if (n < 0) { perror("epoll_wait"); exit(1); }`: epoll_wait() is never restarted
 * after a signal handler, whatever SA_RESTART says, and on Linux it also fails with EINTR after
 * the process was stopped and continued (SIGSTOP or Ctrl-Z, then SIGCONT; signal(7)), with no
 * handler at all. So this server also dies in every clause that pauses it.
 */
#include "_echo.h"

static int wait_or_exit(int ep, struct epoll_event *events, int max) {
    int n = epoll_wait(ep, events, max, -1);
    if (n < 0) fail("epoll_wait"); /* the defect: EINTR is no failure */
    return n;
}

int main(int argc, char **argv) { serve(argc, argv, (hooks_t){.wait = wait_or_exit}); }
