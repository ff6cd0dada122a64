"""Runnable example applications; each is exercised by ``tests/unit/test_examples.py``."""
