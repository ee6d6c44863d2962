"""Conformance kit for TCP echo servers built on I/O multiplexing.

The spec lives in ``spec/echo-server.md``; this package parses it, launches servers, drives
clients against them and reports a verdict per clause.
"""

__version__ = "0.1.0"
