"""Decision quantities computed from models and results.

Layer rule: imports ``model``, ``results`` and (lazily) SALib; no file I/O, no plotting.
"""
