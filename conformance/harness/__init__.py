"""The harness: servers started and stopped, clients with deadlines, /proc and sock_diag."""
