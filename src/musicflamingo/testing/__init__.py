"""Test harnesses shared by tests/ and benchmarks/ (hostile inputs, fixtures); never imported by the stages."""
