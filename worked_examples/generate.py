"""Regenerate the worked examples: every output shown on these pages comes from running matcalc.

    python worked_examples/generate.py          # rewrite the pages and pictures
    python worked_examples/generate.py --check  # exit 1 if a checked-in page is stale

Each example is a title, the commands to run and one paragraph of explanation; the commands are
run in-process through ``matcalc.cli.main`` and their output is pasted below them verbatim.
Pictures use the built-in SVG writer (``--renderer builtin``) so they do not depend on Graphviz.
"""
from __future__ import annotations

import contextlib
import io
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from matcalc.cli.main import main


@dataclass
class Example:
    slug: str
    title: str
    commands: list[list[str]]
    text: str
    picture: list[str] | None = None      # a `graph` command (without -o) drawn next to the page


EXAMPLES = [
    Example(
        "add_mul_gates", "Add and multiply gates: (x+y)*z",
        [["derive", "(x+y)*z", "--wrt", "x,y,z", "--steps", "--at", "x=-2,y=5,z=-4"]],
        "The smallest circuit of the lecture. The add gate `z₁ = x + y` distributes: both `x` and `y` "
        "receive exactly the upstream gradient `z`. The multiply gate `f = z₁ z` switches: `z₁` receives "
        "the other input `z`, and `z` receives `z₁ = x + y`. At x = -2, y = 5, z = -4 the output is -12 "
        "and the gradients are -4, -4 and 3; the picture shows forward values in green above each edge "
        "and gradients in red below it.",
        ["graph", "(x+y)*z", "--at", "x=-2,y=5,z=-4"]),
    Example(
        "sigmoid_neuron", "A sigmoid neuron, staged: w = [2, -3, -3], x = [-1, -2]",
        [["derive", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "--wrt", "w0,x0,w1,x1,w2",
          "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"],
         ["derive", "sigmoid(w'*x + b)", "--wrt", "w,x,b", "--shape", "b=scalar", "--steps",
          "--at", "w=[2,-3],x=[-1,-2],b=-3"]],
        "The neuron computes `dot = w0 x0 + w1 x1 + w2` and then the sigmoid. The first command builds the "
        "sigmoid out of small gates (negate, exp, add 1, reciprocal), so the picture shows every stage of "
        "the backward pass; the second is the same neuron vectorized (`w` holds w0, w1 and `b` is w2) and "
        "treats σ as one gate whose local gradient is σ(1 − σ), the `ddot = (1 - f) * f` of the lecture's "
        "code. Both give the same numbers: f = 0.731, and "
        "dw = [-0.197, -0.393, 0.197] (that is x0, x1 and 1 times ddot = 0.197), dx = [0.393, -0.590].",
        ["graph", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"]),
    Example(
        "norm_Wx", "The vectorized example: ‖W x‖²",
        [["derive", "norm(W*x)^2", "--wrt", "W", "--steps"]],
        "Squaring a norm gives the local gradient `2‖z‖`, and the norm gate sends `z/‖z‖` down, so the "
        "gradient arriving at `z₁ = W x` is simply `2 z₁`. The multiply gate then switches: the matrix "
        "`W` receives the upstream gradient times `xᵀ` on the right (`δ xᵀ`, an outer product with the "
        "shape of W), which simplifies to `2 W x xᵀ`."),
    Example(
        "neuron_layer", "s = uᵀ f(W x + b) in both conventions",
        [["derive", "u'*f(W*x+b)", "--wrt", "W,b", "--steps"],
         ["derive", "u'*f(W*x+b)", "--wrt", "W,b", "--form", "both"]],
        "This is the lecture's derivation. In Jacobian form the chain rule is a product of Jacobians: "
        "`∂s/∂h = uᵀ`, the elementwise `f` has the diagonal Jacobian `diag(f'(z))`, and the add gate the "
        "identity, so the error signal is `δ = uᵀ diag(f'(z))`, a row vector. Code never builds that "
        "diagonal matrix: it multiplies elementwise, `u ∘ f'(z)`. The gradient by W in the shape "
        "convention (the shape of W, what SGD needs) is `δᵀ xᵀ`; its Jacobian form is the transpose."),
    Example(
        "layer_by_weights", "4-D steps: a layer by its weights, A X B by X",
        [["derive", "tanh(W*x + b)", "--wrt", "W", "--steps"],
         ["derive", "A*X*B", "--wrt", "X", "--steps"]],
        "A vector by a matrix has four indices, and matcalc prints it as the Matrix Cookbook does, in "
        "vec form: `vec(M)` stacks the columns of M, and `∂vec(f)/∂vec(W)ᵀ` has a row per entry of f "
        "and a column per entry of W. The chain is the lecture's `∂f/∂W = ∂f/∂z ∂z/∂W`: the "
        "elementwise tanh contributes `diag(1 − f²)`, the add gate the identity, and `z₁ = W x` the "
        "local derivative `xᵀ ⊗ I`, which entry by entry is `∂(z₁)ᵢ/∂Wⱼₖ = δᵢⱼ xₖ`: "
        "`(z₁)ᵢ = Σₖ Wᵢₖ xₖ` depends only on row i of W. Together, the result's last line: "
        "`∂fᵢ/∂Wⱼₖ = (1 − f²)ᵢ xₖ δᵢⱼ`. "
        "For `A X B` the two products give `Bᵀ ⊗ I` and `I ⊗ A`, and the mixed-product rule "
        "`(Bᵀ ⊗ I)(I ⊗ A) = Bᵀ ⊗ A` is Cookbook 520, `vec(A X B) = (Bᵀ ⊗ A) vec(X)`; entry by entry, "
        "`∂fᵢⱼ/∂Xₖₗ = Aᵢₖ Bₗⱼ`."),
    Example(
        "two_layer_net", "A 2-layer sigmoid network in batch form",
        [["derive", "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "--wrt", "W1,W2", "--steps"]],
        "One sample per row of X, as in the lecture's NumPy code. Reading the steps against it: the "
        "gradient at the residual `z₂ = Yp − Y` is `2 z₂` (`grad_y_pred`), the multiply gate `Yp = h W2` "
        "gives `∂L/∂W2 = hᵀ δ` (`grad_w2 = h.T.dot(grad_y_pred)`) and `∂L/∂h = 2 z₂ W2ᵀ` (`grad_h`), the "
        "sigmoid multiplies elementwise by `h ∘ (1 − h)`, and `∂L/∂W1 = Xᵀ δ` is "
        "`grad_w1 = x.T.dot(grad_h*h*(1-h))`. The test suite checks these numerically against that code."),
    Example(
        "multiclass_svm", "The multiclass SVM loss",
        [["derive", "s = W*x; L = sum(max(0, s - y'*s + 1) .* (1 - y))", "--wrt", "W", "--assume", "y=onehot",
          "--steps"]],
        "The hinge loss `Σ_{j≠y} max(0, s_j − s_y + 1)` written in the language with a one-hot label `y`: "
        "`y'*s` picks the correct class score, the scalar broadcasts over the classes, and multiplying by "
        "`1 − y` drops the correct class from the sum. max routes: the gradient flows only through the "
        "classes whose margin is positive (`𝟙[z₃ > 0]`); the correct class collects minus their count "
        "through `yᵀ s`, a fork where the two contributions are added."),
    Example(
        "softmax_cross_entropy", "Softmax cross-entropy",
        [["derive", "-y'*log_softmax(W*x)", "--wrt", "W", "--assume", "y=onehot", "--steps"],
         ["derive", "-y'*log_softmax(W*x)", "--wrt", "W", "--assume", "y=onehot"]],
        "The loss `−yᵀ log softmax(W x)` with a one-hot `y`. The log-softmax gate sends down "
        "`G − softmax(z) 𝟏ᵀG`; with `G = −y` and `𝟏ᵀy = 1` (the one-hot assumption) this is the familiar "
        "`softmax(W x) − y`, and the multiply gate gives `(softmax(W x) − y) xᵀ`."),
    Example(
        "two_layer_net_biases", "CS231n: a two-layer net with biases in batch form",
        [["derive", "h = relu(X*W1 + b1'); S = h*W2 + b2'; "
          "L = -sum(sum(Y .* log_softmax(S, 2)))/size(X, 1) + lam*(sum(sum(W1 .* W1)) + sum(sum(W2 .* W2)))",
          "--wrt", "W1,b1,W2,b2", "--assume", "Y=onehot_rows", "--shape", "lam=scalar"]],
        "The network of the CS231n assignment, one sample per row of `X` and one one-hot label per "
        "row of `Y`: `X*W1 + b1'` adds the bias row to every row (broadcasting), the loss is the "
        "softmax cross-entropy averaged over the n samples, plus an L2 penalty. Reading the result "
        "against the assignment's code: `t2 = softmax(S, 2) − Y` is `dscores` before the division by "
        "N, `∂L/∂W2 = 2 lam W2 + hᵀ t2/n` is `dW2 = h.T.dot(dscores) + 2*reg*W2`, "
        "`∂L/∂b2 = sum(t2, 1)ᵀ/n` is `db2 = np.sum(dscores, axis=0)`, `t3` is `dhidden` after the "
        "ReLU gate (`dhidden[h <= 0] = 0`), and `∂L/∂W1`, `∂L/∂b1` follow the same pattern one layer "
        "down. A bias's gradient is the column sum of the upstream gradient: the bias was copied "
        "to every row, so every row's gradient flows back into it."),
    Example(
        "softmax_batch", "The softmax loss averaged over the batch",
        [["derive", "L = -sum(sum(Y .* log_softmax(X*W, 2)))/size(X, 1)", "--wrt", "W",
          "--assume", "Y=onehot_rows", "--shape", "X=N,D", "--shape", "W=D,C"],
         ["derive", "L = -sum(sum(Y .* log_softmax(X*W, 2)))/size(X, 1)", "--wrt", "W",
          "--assume", "Y=onehot_rows", "--shape", "X=N,D", "--shape", "W=D,C", "--text"]],
        "N samples of dimension D in the rows of `X`, C classes, one-hot rows in `Y`; "
        "`log_softmax(·, 2)` normalises each row and `size(X, 1)` is the batch size N. The "
        "result is the textbook `Xᵀ(P − Y)/N` with `P` the row-wise softmax: the `1/N` of the mean "
        "is factored out, and the one-hot assumption (`𝟏ᵀ` of each row of `Y` is 1) is what turns "
        "`Y − P (Y 𝟏)𝟏ᵀ` into `Y − P`. The text form (second command, what `matcalc check --answer` "
        "takes) writes the batch size as its name `N`, and `check` accepts that answer "
        "(`tests/test_v2_worked_examples.py`)."),
    Example(
        "svm_batch", "The multiclass SVM loss in batch form",
        [["derive", "S = X*W; M = max(0, S - sum(S .* Y, 2) + 1) .* (1 - Y); L = sum(sum(M))/size(X, 1)",
          "--wrt", "W", "--assume", "Y=onehot_rows"]],
        "The hinge loss of CS231n over a batch: `sum(S .* Y, 2)` is the column of correct-class "
        "scores (one per sample), and subtracting it from the n×C matrix `S` broadcasts it across "
        "the columns, so `M` holds every margin `max(0, s_j − s_y + 1)` with the correct class masked "
        "out by `1 − Y`. `t1` is the indicator of the positive margins (the assignment's "
        "`binary`); each correct class collects minus its row's count `t1 𝟏` (`binary[y] = "
        "-row_sum`), which is the term `(t1 𝟏 𝟏ᵀ) ∘ Y`; then `∂L/∂W = Xᵀ(…)/n`, the `/n` of the mean "
        "factored out."),
    Example(
        "batchnorm", "Batch normalization and layer normalization, backward",
        [["derive", "mu = mean(X, 1); xc = X - mu; v = mean(xc.^2, 1); s = sqrt(v + 1e-5); Xh = xc ./ s; "
          "L = sum(sum(G .* (Xh .* g' + b')))", "--wrt", "X,g,b"],
         ["derive", "xc = X - mean(X, 2); s = sqrt(mean(xc.^2, 2) + 1e-5); Xh = xc ./ s; "
          "L = sum(sum(G .* (Xh .* g' + b')))", "--wrt", "X"]],
        "Batch normalization with the means taken down each column (`mean(X, 1)`, a row broadcast "
        "back over the rows), scale `g` and shift `b`, and `G` an arbitrary upstream gradient at the "
        "output, so that `sum(sum(G .* out))` has exactly `G` as its gradient there. The shift's "
        "gradient is the column sum of `G` and the scale's is `sum(t1, 1)ᵀ` with `t1 = G ∘ Xh`. By "
        "`X` the result is the known compact form (γ/σ) ∘ (G − x̂ ∘ mean(G ∘ x̂) − mean(G)), "
        "`𝟏(gᵀ ⊘ s)` being γ/σ copied down the rows: the gradient that flows through the mean "
        "`mu` into the variance vanishes because a centred column sums to zero "
        "(`𝟏ᵀ(x − mean(x)) = 0`), a fact the simplifier knows, not the batchnorm answer; a factor "
        "shared by the terms then comes out, and the named `Xh` is used wherever its factors "
        "appear. Layer normalization (second command) is the same with the means taken across each "
        "row (`mean(·, 2) 𝟏ᵀ`), its scale `g` staying inside (`t2 = G ∘ t1`, the gradient at `Xh`)."),
    Example(
        "word2vec", "CS224n word2vec: naive softmax and negative sampling",
        [["derive", "ŷ = softmax(U'*v); J = -log(ŷ[o])", "--wrt", "v,U", "--shape", "o=index"],
         ["derive", "J = -log(sigmoid(uo'*v)) - sum(log(sigmoid(-K'*v)))", "--wrt", "v,uo,K"]],
        "The skip-gram loss for a centre word vector `v` (CS224n's v_c), the outside vectors in the "
        "columns of `U` and the true outside word `o`, an index name (`--shape o=index`: it "
        "counts from 1 on the command line and from 0 in NumPy). `ŷ[o]` selects an entry, and in "
        "the result the selection comes back as the unit vector `eₒ`: `∂J/∂v = U(ŷ − eₒ)` and "
        "`∂J/∂U = v(ŷ − eₒ)ᵀ`, the assignment's `U(ŷ − y)` with `y` one-hot. With negative "
        "sampling the K negative vectors are the columns of `K`: `∂J/∂v = K(1 − σ(−Kᵀv)) − "
        "(1 − σ(u_oᵀv)) u_o`, `∂J/∂u_o = −(1 − σ(u_oᵀv)) v` and all K columns at once "
        "`∂J/∂K = v(1 − σ(−Kᵀv))ᵀ`; since `1 − σ(−x) = σ(x)` these are the handout's "
        "`Σ_k σ(u_kᵀv) u_k − (1 − σ(u_oᵀv)) u_o` and `σ(u_kᵀv) v`."),
    Example(
        "attention", "Scaled dot-product attention, backward",
        [["derive", "A = softmax(Q*K'/sqrt(size(Q, 2)), 2); O = A*V; L = sum(sum(G .* O))",
          "--wrt", "Q,K,V"]],
        "One attention head: queries, keys and values in the rows of `Q`, `K`, `V`, the scores "
        "scaled by the square root of the key dimension (`size(Q, 2)`, printed as its name `m`) and "
        "normalised by a softmax along each row, and `G` the upstream gradient at the output `O`. "
        "The values receive `Aᵀ G`; `t1 = G Vᵀ` is the gradient at the attention weights, and the "
        "row-wise softmax turns it into `t2 = A ∘ (t1 − rowsum(t1 ∘ A))` at the scores (each row's "
        "softmax Jacobian `diag(a) − a aᵀ` applied without forming it); the scores' product "
        "`Q Kᵀ` then switches: `t2 K` for Q and `t2ᵀ Q` for K, both divided by `sqrt(m)`."),
    Example(
        "matmul_gradient", "The matrix-multiply gradient: dW = dD Xᵀ, dX = Wᵀ dD",
        [["derive", "sum(dD .* (W*X))", "--wrt", "W,X", "--shape", "W=5,10", "--shape", "X=10,3",
          "--shape", "dD=5,3", "--steps"]],
        "To see the gradient of `D = W X` on its own, give it an arbitrary upstream gradient `dD`: the "
        "scalar `sum(dD ∘ (W X))` has exactly `dD` as its gradient at `D`. The multiply gate switches: "
        "`∂/∂W = dD Xᵀ` and `∂/∂X = Wᵀ dD`, the lecture's `dW = dD.dot(X.T)` and `dX = W.T.dot(dD)`. "
        "The shapes decide where the transposes go: `dW` must have the shape of W. (`dD` is declared a "
        "5×3 matrix, the lecture's sizes: a lower-case name that could be a scalar is otherwise typed as one.)"),
]


def quote(argv: list[str]) -> str:
    """A command line as a user would type it (double quotes around an argument with a ')."""
    out = []
    for a in argv:
        if "'" in a and not any(c in a for c in '"$`\\!'):
            out.append(f'"{a}"')
        else:
            out.append(shlex.quote(a))
    return " ".join(out)


def run(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"matcalc {shlex.join(argv)} failed ({code}): {err.getvalue()}")
    return out.getvalue().rstrip("\n")


def picture(ex: Example) -> str | None:
    if ex.picture is None:
        return None
    from matcalc.output.explain import parse_at
    from matcalc.api import graph_model
    from matcalc.output.picture import to_svg
    args = ex.picture
    at = parse_at(args[args.index("--at") + 1]) if "--at" in args else None
    return to_svg(graph_model(args[1], None, None, None, at))


def page(ex: Example) -> str:
    lines = [f"# {ex.title}", "", ex.text, ""]
    for argv in ex.commands:
        lines += ["```", "$ matcalc " + quote(argv), run(argv), "```", ""]
    if ex.picture is not None:
        cmd = quote(ex.picture + ["-o", f"{ex.slug}.svg"])
        lines += [f"The computational graph (`matcalc {cmd}`):", "", f"![{ex.title}]({ex.slug}.svg)", ""]
    lines.append("*Generated by `worked_examples/generate.py`; do not edit by hand.*")
    return "\n".join(lines) + "\n"


def outputs() -> dict[str, str]:
    """File name → content for every page and picture."""
    files = {}
    index = ["# Worked examples", "", ("Each page shows commands and their real output (regenerated by "
                                       "`python worked_examples/generate.py`, checked by "
                                       "`tests/test_worked_examples.py`)."), ""]
    for ex in EXAMPLES:
        files[f"{ex.slug}.md"] = page(ex)
        svg = picture(ex)
        if svg is not None:
            files[f"{ex.slug}.svg"] = svg
        index.append(f"- [{ex.title}]({ex.slug}.md)")
    files["README.md"] = "\n".join(index) + "\n"
    return files


def main_(argv: list[str]) -> int:
    stale = []
    for name, content in outputs().items():
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            path.write_text(content, encoding="utf-8")
    if stale:
        print("stale: " + ", ".join(stale) + " (run python worked_examples/generate.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
