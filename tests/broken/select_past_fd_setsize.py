"""MUX-5: it waits with select() and accepts clients whose fd is 1024 or more, so the next
select() raises ValueError and the server dies.

Models `selectors.SelectSelector` (or a hand-written select() loop) with no FD_SETSIZE check at
accept: correct up to about a thousand clients, then "filedescriptor out of range in select()"
ends the process and every connection with it.
"""

import selectors

from _base import EchoServer, run


class SelectPastFdSetsize(EchoServer):
    selector_class = selectors.SelectSelector  # the defect: no check of fd < 1024 at accept


if __name__ == "__main__":
    run(SelectPastFdSetsize)
