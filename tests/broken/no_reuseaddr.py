"""START-3: binds without SO_REUSEADDR, so a restart fails while old connections sit in TIME_WAIT.

A thread-per-connection server with blocking sockets (a second API style for the kit), correct
but for the missing setsockopt: after a stop with a client connected, the server's side of that
connection holds the port in TIME_WAIT for 60 s and the next bind() raises EADDRINUSE.
"""

import socket
import threading
import time

from _base import exit_on_signals, parse_args


def echo(conn: socket.socket) -> None:
    """Echo until EOF or an error; sendall() leaves nothing owed when recv() sees EOF."""
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass


def main() -> None:
    args = parse_args(__doc__ or "")
    exit_on_signals()
    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    listener.bind((args.host, args.port))  # the defect: no SO_REUSEADDR before bind()
    listener.listen(socket.SOMAXCONN)
    print(f"LISTENING {args.host} {listener.getsockname()[1]}", flush=True)
    while True:
        try:
            conn, _ = listener.accept()
        except ConnectionAbortedError:  # that client is gone
            continue
        except OSError:  # EMFILE: retrying at once would spin until a connection ends
            time.sleep(0.1)
            continue
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
