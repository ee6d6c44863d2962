#!/usr/bin/env python
# Twisted's canonical echo server, docs/core/examples/echoserv.py (Copyright (c) Twisted Matrix
# Laboratories, MIT licence), unchanged except for one thing: the host and port come from the
# command line (`twisted_echoserv.py HOST PORT`) instead of the fixed port 8000.
import sys

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

HOST, PORT = sys.argv[1], int(sys.argv[2])  # added: host/port handling

### Protocol Implementation

# This is just about the simplest possible protocol


class Echo(Protocol):
    def dataReceived(self, data):
        """
        As soon as any data is received, write it back.
        """
        self.transport.write(data)


def main():
    f = Factory()
    f.protocol = Echo
    reactor.listenTCP(PORT, f, interface=HOST)  # changed: was reactor.listenTCP(8000, f)
    reactor.run()


if __name__ == "__main__":
    main()
