"""Central differences for the regression tests: the reference a printed derivative must meet."""
import numpy as np


def central_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x entry by entry, (f(x + h eᵢ) − f(x − h eᵢ)) / 2h, for a scalar f of an array x."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g
