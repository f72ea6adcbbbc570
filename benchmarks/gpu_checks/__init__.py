"""The checks of ``benchmarks/gpu_check.py``, one module per kind (see that script's docstring)."""
