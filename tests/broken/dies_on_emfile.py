"""RES-4: accept() failing with EMFILE raises out of the loop, and the server dies.

Models an accept guarded only against EAGAIN and ECONNABORTED: the day the process runs out of
descriptors, "OSError: [Errno 24] Too many open files" ends it, and every connection with it.
"""

import errno

from _base import EchoServer, run


class DiesOnEmfile(EchoServer):
    def on_accept_error(self, exc: OSError) -> None:
        if exc.errno == errno.EMFILE:
            raise exc  # the defect
        super().on_accept_error(exc)


if __name__ == "__main__":
    run(DiesOnEmfile)
