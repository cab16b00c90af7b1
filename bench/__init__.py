"""Load benchmarks: CustomerGraph against a hand-written floor (see bench/README.md)."""
