"""Matrix-by-matrix derivatives: Kronecker/vec forms and index form.
"""
