"""Generators of the scanner's test corpus (benign and malicious), written into a temp folder.

``benign.build(dest)`` writes honest model files with the frameworks' own writers;
``malicious.build(dest)`` writes hostile files whose payload only creates a marker file.
Both are used by ``tests/test_scan*.py`` and ``benchmarks/bench_scan.py``.
"""
