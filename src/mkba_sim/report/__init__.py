"""Human-readable output: text tables for the terminal, an HTML report.

Layer rule: reads models, results and analysis outputs; matplotlib only inside functions.
"""
