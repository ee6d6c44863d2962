# The Python documentation's "TCP echo server using streams" (Doc/library/asyncio-stream.rst,
# Python 3.11; PSF licence), unchanged except for one thing: the host and port come from the
# command line (`asyncio_streams_echo.py HOST PORT`) instead of '127.0.0.1', 8888.
import asyncio
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])  # added: host/port handling


async def handle_echo(reader, writer):
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info('peername')

    print(f"Received {message!r} from {addr!r}")

    print(f"Send: {message!r}")
    writer.write(data)
    await writer.drain()

    print("Close the connection")
    writer.close()
    await writer.wait_closed()

async def main():
    server = await asyncio.start_server(
        handle_echo, HOST, PORT)  # changed: was '127.0.0.1', 8888

    addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
    print(f'Serving on {addrs}')

    async with server:
        await server.serve_forever()

asyncio.run(main())
