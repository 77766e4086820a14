"""Tests of the local stack itself (the emulator, its patches of moto, the benchmarks, the fault runs)
and of the command-line tools: run by make test, not by the inner loop (make test-fast)."""
