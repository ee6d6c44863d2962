"""C shipped as source and built on first use: the fault interposer (faults.c) and the
programs other parts compile (the benchmark's client and baseline server)."""
