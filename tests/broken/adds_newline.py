"""ECHO-3: appends b"\\n" to every chunk it echoes.

Models `send(data + b"\\n")` / print-style replies: the echo is no longer the byte stream that
came in, and how many newlines appear depends on how the kernel chunked it.
"""

from _base import EchoServer, run


class AddsNewline(EchoServer):
    def transform(self, data: bytes) -> bytes:
        return data + b"\n"  # the defect


if __name__ == "__main__":
    run(AddsNewline)
