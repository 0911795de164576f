"""The torch and JAX modules' layout: matcalc's forward and derived backward, wired into the framework.

Both modules hold the same ``forward(**inputs) -> (output, cache)`` and ``backward(cache,
upstream=1.0) -> {name: gradient}`` as the NumPy module (same names, same cache, same stable
forms), written in the framework's operations, plus ``INPUTS`` (the input names, in order),
``WRT`` and ``fn(*inputs)``:

* torch: ``Function``, a ``torch.autograd.Function`` whose ``forward`` saves the cache with
  ``ctx.save_for_backward`` and whose ``backward`` is matcalc's; ``fn = Function.apply``, so
  ``torch.autograd.gradcheck(fn, inputs)`` works directly.  dtype and device are the inputs'.
  An input outside ``WRT`` that requires grad is an error, never a silent zero gradient.
* JAX: ``fn`` is a ``jax.custom_vjp`` function (jit-compatible) whose residuals are the cache;
  ``jax.grad(fn, argnums=...)`` works directly.  The cotangent of an input outside ``WRT`` is
  NaN (JAX asks every cotangent; a zero would be silently wrong).

``LAYOUTS`` maps each target to its layout function (NumPy's is ``template.module_source``).
"""
from __future__ import annotations

from matcalc.core.rules.targets import TARGET_HELPERS
from matcalc.generate.template import Parts, cache_reads, doc_escape, module_source

_TORCH_FUNCTION = '''class Function(torch.autograd.Function):
    """matcalc's forward and derived backward as a torch autograd function (inputs in INPUTS order)."""

    @staticmethod
    def forward(ctx, *inputs):
        for name, needs in zip(INPUTS, ctx.needs_input_grad):
            if needs and name not in WRT:
                raise ValueError(f"{name} requires grad, but this module has the gradients of "
                                 f"{', '.join(WRT)} only: generate it with {name} in --wrt")
        out, cache = forward(**dict(zip(INPUTS, inputs)))
        ctx.tensors = [k for k, v in cache.items() if isinstance(v, torch.Tensor)]
        ctx.others = {k: v for k, v in cache.items() if not isinstance(v, torch.Tensor)}
        ctx.save_for_backward(*(cache[k] for k in ctx.tensors))
        ctx.shapes = [v.shape if isinstance(v, torch.Tensor) else None for v in inputs]
        return out

    @staticmethod
    def backward(ctx, upstream):
        if torch.is_grad_enabled():   # create_graph=True: the cache was made without a tape, so differentiating
            raise RuntimeError("matcalc's generated backward is first order: it cannot be differentiated again "
                               "(create_graph=True); for second derivatives use matcalc codegen --hessian")
        cache = dict(zip(ctx.tensors, ctx.saved_tensors))
        cache.update(ctx.others)
        grads = backward(cache, upstream)
        return tuple(None if not needs or shape is None else g if (g := grads[name]).shape == shape else g.reshape(shape)
                     for name, shape, needs in zip(INPUTS, ctx.shapes, ctx.needs_input_grad))


fn = Function.apply'''

_JAX_VJP = '''@jax.custom_vjp
def fn(*inputs):
    """The output from the inputs in INPUTS order; jax.grad and jax.vjp use matcalc's backward."""
    return forward(**dict(zip(INPUTS, inputs)))[0]


def _fn_forward(*inputs):
    out, cache = forward(**dict(zip(INPUTS, inputs)))
    return out, (cache, inputs)


def _fn_backward(residuals, upstream):
    cache, inputs = residuals
    grads = backward(cache, upstream)
    out = []
    for name, v in zip(INPUTS, inputs):
        if name in grads:
            out.append(jnp.reshape(grads[name], jnp.shape(v)))
        elif jnp.issubdtype(jnp.result_type(v), jnp.floating):   # not derived: NaN, never a silent 0
            out.append(jnp.full(jnp.shape(v), jnp.nan, dtype=jnp.result_type(v)))
        else:
            out.append(None)
    return tuple(out)


fn.defvjp(_fn_forward, _fn_backward)'''

_HEADERS = {
    "torch": ["import torch", ""],
    "jax": ["import jax", "import jax.numpy as jnp", "import jax.scipy.special", ""],
}
_WIRING = {"torch": _TORCH_FUNCTION, "jax": _JAX_VJP}
_CONSTANTS = {"torch": ["DEFAULT_DTYPE = torch.{dtype}   # for inputs that are not tensors"], "jax": []}
_DECORATOR = {"torch": [], "jax": []}
_WHAT = {"torch": "a torch.autograd.Function (Function; fn = Function.apply) with the derived backward",
         "jax": "a jax.custom_vjp function (fn, jit-compatible) with the derived backward"}
_HOW = {"torch": ("fn(*inputs) takes torch tensors in the order INPUTS; torch's autograd differentiates it "
                  "through matcalc's backward (torch.autograd.gradcheck(fn, inputs) works), by WRT only: an "
                  "input outside WRT must not require grad. dtype and device are the inputs' (nothing is "
                  "hard-coded). fn is differentiable once (a second derivative through it raises). "
                  "Called directly, forward and backward are plain torch code: wrap them in torch.no_grad() "
                  "to run them without a tape."),
        "jax": ("fn(*inputs) takes arrays in the order INPUTS; jax.grad(fn, argnums=...) and jax.jit use "
                "matcalc's backward, by WRT only: the cotangent of an input outside WRT is NaN. dtype: the "
                "inputs' (float64 needs jax_enable_x64).")}


def target_module_source(p: Parts, target: str) -> str:
    """The torch or JAX module's text."""
    lines = [f'"""Generated by matcalc: {_WHAT[target]} for\n\n    {doc_escape(p.expr)}\n']
    lines.append("Shapes (internal vectors are columns; inputs and results use NumPy conventions):")
    lines += [f"    {doc_escape(name)}: {shape}" for name, shape in p.inputs]
    lines.append("\n" + _HOW[target])
    lines.append(f"forward(**inputs) -> (output, cache); backward(cache, upstream=1.0) returns the gradients of "
                 f"{', '.join(doc_escape(w) for w in p.wrt)} (dict keyed by name).")
    lines.append('"""')
    lines += _HEADERS[target]
    lines.append("INPUTS = " + _tuple([n for n, _ in p.inputs]))
    lines.append("WRT = " + _tuple(p.wrt))
    lines += [c.format(dtype=p.dtype) for c in _CONSTANTS[target]]
    lines.append("")
    for h in sorted(p.helpers):
        lines += ["", TARGET_HELPERS[target][h], ""]
    lines.append("")
    lines += _DECORATOR[target]
    lines.append("def forward(**inputs):")
    lines.append('    """The output and the cache backward needs."""')
    lines += p.forward_body
    lines += ["", ""]
    lines += _DECORATOR[target]
    lines.append("def backward(cache, upstream=1.0):")
    lines.append('    """Fresh gradients keyed by variable name; the cache is left untouched."""')
    lines += cache_reads(p.backward_reads)
    lines += p.backward_body
    lines.append("    return {" + ", ".join(f"{k!r}: {v}" for k, v in p.grads) + "}")
    lines += ["", "", _WIRING[target]]
    return "\n".join(lines) + "\n"


def _tuple(names: list[str]) -> str:
    return "(" + ", ".join(repr(n) for n in names) + ("," if len(names) == 1 else "") + ")"


LAYOUTS = {"numpy": module_source, "torch": lambda p: target_module_source(p, "torch"),
           "jax": lambda p: target_module_source(p, "jax")}
