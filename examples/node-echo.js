// A Node.js `net` echo server, for validating a non-Python backend with the kit:
//   python -m conformance --server-cmd 'node examples/node-echo.js --host {host} --port {port}'
//
// Node's stream machinery does what the spec asks: pipe() applies backpressure (the socket is not
// read while its echo is not written), and with allowHalfOpen the client's FIN ends only the
// readable side: pipe() then ends the writable side after the last byte (CLOSE-3).
"use strict";
const net = require("net");

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const host = option("--host", "127.0.0.1");
const port = Number(option("--port", "0"));

const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on("error", () => socket.destroy()); // ECONNRESET, EPIPE: that client is gone
  socket.pipe(socket);
});
server.listen({ host, port, exclusive: true }, () => {
  const address = server.address();
  process.stdout.write(`LISTENING ${address.address} ${address.port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
