"""Numbers: evaluation of graphs with NumPy, sampling inside the domain, central differences.
"""
