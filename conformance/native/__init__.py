"""Programs shipped as source and built on first use into the user's cache: the fault
interposer (faults.c, loaded into servers with LD_PRELOAD), the benchmark's C programs, the Go
example."""
