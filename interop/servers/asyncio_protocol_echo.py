# The Python documentation's "TCP Echo Server" on asyncio's Protocol API
# (Doc/library/asyncio-protocol.rst, Python 3.11; PSF licence), unchanged except for one thing:
# the host and port come from the command line (`asyncio_protocol_echo.py HOST PORT`) instead
# of '127.0.0.1', 8888.
import asyncio
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])  # added: host/port handling


class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        peername = transport.get_extra_info('peername')
        print('Connection from {}'.format(peername))
        self.transport = transport

    def data_received(self, data):
        message = data.decode()
        print('Data received: {!r}'.format(message))

        print('Send: {!r}'.format(message))
        self.transport.write(data)

        print('Close the client socket')
        self.transport.close()


async def main():
    # Get a reference to the event loop as we plan to use
    # low-level APIs.
    loop = asyncio.get_running_loop()

    server = await loop.create_server(
        EchoServerProtocol,
        HOST, PORT)  # changed: was '127.0.0.1', 8888

    async with server:
        await server.serve_forever()


asyncio.run(main())
