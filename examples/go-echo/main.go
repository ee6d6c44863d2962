// The echo server of the example of net.Listener in the documentation of Go's net package
// (https://pkg.go.dev/net#example-Listener), for validating a Go backend with the kit. Its
// logic is unchanged; only the --host and --port flags are added (the example listens on
// ":2000"), so that the kit can give it its address:
//
//	cd examples/go-echo && go build && cd ../..
//	python -m conformance --server-cmd 'examples/go-echo/go-echo --host {host} --port {port}'
//
// (tests/test_cli.py builds it into the user's cache on first use.) It prints no ready line:
// the kit sees its socket in LISTEN state. On Linux io.Copy between two TCP connections
// splices through a pipe taken from a pool, and pooled pipes stay open until the garbage
// collector drops them: after its first sessions the process holds a few more pipes, a
// number that does not grow with more sessions (spec RES-8). It does have a real defect:
// log.Fatal on any Accept error, EMFILE included (spec RES-4).
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"strconv"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: the kernel picks)")
	flag.Parse()

	// Listen on TCP port 2000 on all available unicast and
	// anycast IP addresses of the local system.
	// (Here: on --host and --port, the one change to the example.)
	l, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		// Wait for a connection.
		conn, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		// Handle the connection in a new goroutine.
		// The loop then returns to accepting, so that
		// multiple connections may be served concurrently.
		go func(c net.Conn) {
			// Echo all incoming data.
			io.Copy(c, c)
			// Shut down the connection.
			c.Close()
		}(conn)
	}
}
