"""Code generation: planning, the NumPy emitter, first- and second-order modules, gradchecks.
"""
