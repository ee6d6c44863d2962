"""The base server unmodified: it must pass every clause, or the broken servers prove nothing."""

from _base import EchoServer, run

if __name__ == "__main__":
    run(EchoServer)
