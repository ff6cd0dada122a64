"""Hand-run benchmarks (not tests): ``python3 -m benchmarks.runtime_bench``; see README.md."""
