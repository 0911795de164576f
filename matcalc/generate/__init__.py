"""Code generation: planning, the NumPy emitter, first- and second-order programs, the module
template they are laid out by, gradchecks.
"""
