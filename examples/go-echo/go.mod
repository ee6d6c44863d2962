module echo-conformance/examples/go-echo

go 1.19
