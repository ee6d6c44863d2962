"""ECHO-2: decodes each chunk as UTF-8 with errors="replace" and re-encodes it.

Models `recv(n).decode("utf-8")` from the tutorials, made "robust" with errors="replace": it
never crashes, but invalid bytes, and a character split across two recv() calls, come back as
U+FFFD (b"\\xef\\xbf\\xbd").
"""

from _base import EchoServer, run


class DecodesUtf8(EchoServer):
    def transform(self, data: bytes) -> bytes:
        return data.decode("utf-8", errors="replace").encode()  # the defect


if __name__ == "__main__":
    run(DecodesUtf8)
