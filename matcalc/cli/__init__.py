"""The ``matcalc`` command, a thin layer over ``matcalc.api``.
"""
