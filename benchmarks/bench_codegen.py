"""Generated forward+backward against hand-written NumPy backprop (and autograd/JAX/torch if present).

Run by hand: ``python benchmarks/bench_codegen.py [--repeats 30]``.  BLAS is pinned to one thread
with threadpoolctl when it is installed; timings are interleaved in one process and the medians
are printed as ratios to the hand-written version.  Competitors are optional (``bench`` extra).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from matcalc.codegen import codegen
from matcalc.gradcheck import load


def sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---------------------------------------------------------------- hand-written backprop
def hand_2layer(X, W1, W2, Y):
    h = sig(X @ W1)
    Yp = h @ W2
    d = Yp - Y
    loss = np.sum(d * d)
    dYp = 2.0 * d
    dW2 = h.T @ dYp
    dh = dYp @ W2.T
    dW1 = X.T @ (dh * h * (1 - h))
    return loss, {"W1": dW1, "W2": dW2}


def hand_tanh(u, W, x, b):
    h = np.tanh(W @ x + b)
    s = u @ h
    dz = u * (1 - h * h)
    return s, {"W": np.outer(dz, x), "b": dz}


def hand_softmax_ce(X, W, Y):
    Z = X @ W
    m = Z.max(axis=1, keepdims=True)
    ls = Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
    loss = -np.sum(Y * ls)
    dZ = np.exp(ls) * Y.sum(axis=1, keepdims=True) - Y
    return loss, {"W": X.T @ dZ}


def hand_wx(W, X):
    Z = W @ X
    return np.sum(Z * Z), {"W": 2.0 * Z @ X.T}


def hand_mlp(X, *Ws):
    hs = [X]
    for W in Ws[:-1]:
        hs.append(np.tanh(hs[-1] @ W))
    out = np.sum(hs[-1] @ Ws[-1])
    G = np.ones((X.shape[0], Ws[-1].shape[1]))
    grads = {}
    grads[f"W{len(Ws)}"] = hs[-1].T @ G
    dh = G @ Ws[-1].T
    for i in range(len(Ws) - 1, 0, -1):
        dz = dh * (1 - hs[i] * hs[i])
        grads[f"W{i}"] = hs[i - 1].T @ dz
        dh = dz @ Ws[i - 1].T
    return out, grads


def workloads(rng):
    N, D, H, C = 64, 1000, 100, 10
    yield ("2-layer sigmoid net", "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2",
           {"X": (N, D), "W1": (D, H), "W2": (H, C), "Y": (N, C)}, None, hand_2layer)
    for n in (64, 512, 4096):
        yield (f"tanh layer n={n}", "s = u'*tanh(W*x + b)", "W,b",
               {"u": (n,), "W": (n, n), "x": (n,), "b": (n,)}, None, hand_tanh)
    yield ("softmax cross-entropy", "L = sum(-Y .* log_softmax(X*W, 2))", "W",
           {"X": (256, 3072), "W": (3072, 10), "Y": (256, 10)}, {"Y": "onehot_rows"}, hand_softmax_ce)
    yield ("||W X||_F^2 n=512", "norm(W*X)^2", "W", {"W": (512, 512), "X": (512, 512)}, None, hand_wx)
    layers = " ".join(f"h{i} = tanh(h{i - 1}*W{i});" for i in range(2, 9))
    yield ("8-layer tanh MLP", f"h1 = tanh(X*W1); {layers} L = sum(h8*W9)", ",".join(f"W{i}" for i in range(1, 10)),
           {"X": (64, 256), **{f"W{i}": (256, 256) for i in range(1, 10)}}, None, hand_mlp)


def inputs_for(shapes, assume, rng):
    out = {}
    for k, s in shapes.items():
        if assume and assume.get(k) == "onehot_rows":
            a = np.zeros(s)
            a[np.arange(s[0]), rng.integers(s[1], size=s[0])] = 1.0
            out[k] = a
        else:
            out[k] = rng.standard_normal(s) / np.sqrt(s[0] if len(s) == 2 and k.startswith("W") else 1)
    return out


def competitors(expr_name, hand, wrt):
    """autograd's value_and_grad of the same function, when installed."""
    out = {}
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return out
    import inspect
    names = list(inspect.signature(hand).parameters)
    fn = {
        hand_2layer: lambda X, W1, W2, Y: anp.sum((0.5 * (1 + anp.tanh(0.5 * (X @ W1)))) @ W2 - Y) ** 0
        * anp.sum(((0.5 * (1 + anp.tanh(0.5 * (X @ W1)))) @ W2 - Y) ** 2),
        hand_tanh: lambda u, W, x, b: anp.dot(u, anp.tanh(anp.dot(W, x) + b)),
        hand_softmax_ce: lambda X, W, Y: -anp.sum(Y * (X @ W - autograd.scipy.special.logsumexp(X @ W, axis=1,
                                                                                                 keepdims=True))),
        hand_wx: lambda W, X: anp.sum((W @ X) ** 2),
    }.get(hand)
    if hand is hand_mlp:
        def fn(X, *Ws):
            h = X
            for W in Ws[:-1]:
                h = anp.tanh(h @ W)
            return anp.sum(h @ Ws[-1])
    if fn is None:
        return out
    if hand is hand_softmax_ce:
        import autograd.scipy.special
    argnums = tuple(i for i, n in enumerate(names) if n in wrt.split(","))
    if hand is hand_mlp:
        argnums = tuple(range(1, 10))
        names = ["X"] + [f"W{i}" for i in range(1, 10)]
    vg = autograd.value_and_grad(fn, argnums)
    out["autograd"] = lambda inp: vg(*[inp[n] for n in names])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
        pinned = "BLAS pinned to 1 thread"
    except ImportError:
        limit, pinned = None, "threadpoolctl missing: BLAS threads not pinned"
    print(pinned)
    rng = np.random.default_rng(0)
    print(f"{'workload':26s} {'hand ms':>9s} {'generated':>10s} {'autograd':>9s}")
    for name, expr, wrt, shapes, assume, hand in workloads(rng):
        mod = load(codegen(expr, wrt, shapes, assume))
        inp = inputs_for(shapes, assume, rng)
        import inspect
        hand_args = list(inspect.signature(hand).parameters)
        if hand is hand_mlp:
            run_hand = lambda: hand(inp["X"], *[inp[f"W{i}"] for i in range(1, 10)])
        else:
            run_hand = lambda: hand(*[inp[a] for a in hand_args])

        def run_gen():
            _, cache = mod["forward"](**inp)
            return mod["backward"](cache)
        g_gen, (_, g_hand) = run_gen(), run_hand()
        for k in g_hand:
            assert np.allclose(np.reshape(g_gen[k], np.shape(g_hand[k])), g_hand[k], rtol=1e-6, atol=1e-8), (name, k)
        fns = {"hand": run_hand, "generated": run_gen}
        fns.update({k: (lambda f: lambda: f(inp))(f) for k, f in competitors(name, hand, wrt).items()})
        times = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        row = f"{name:26s} {med['hand'] * 1e3:9.3f} {med['generated'] / med['hand']:10.2f}"
        row += f" {med['autograd'] / med['hand']:9.2f}" if "autograd" in med else f" {'-':>9s}"
        print(row)
    if limit is not None:
        limit.restore_original_limits()


if __name__ == "__main__":
    main()
