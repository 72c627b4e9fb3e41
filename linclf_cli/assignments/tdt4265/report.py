"""TDT4265 Assignment 1 sections: derivations, figures, measured numbers, discussion."""

from __future__ import annotations

import numpy as np

from linclf_cli.assignments.tdt4265.recipe import load_history

from linclf_cli.assignments.report_kit import Ctx, fmt, pct, section, table

A = "tdt4265-a1"


def ref(t: str) -> str:
    return f"{A}/{t}"


def _gradcheck_rows(m: dict) -> list[str]:
    rows = [[r["model"], f"{r['l2']:g}", r["n_weights"], r["max_abs_error"], r["bound"], r["max_rel_error"],
             "✔ pass" if r["passed"] else "✗ fail"] for r in m.get("checks", [])]
    data = m.get("checks", [{}])[0].get("data", "")
    out = ([f"Numerical check (centred differences, ε = {m['checks'][0]['eps']:g}, float64, {data}, "
            "weights drawn from N(0, (1/785²)²) as in the starter):", ""]
           + table(["model", "λ", "weights", "max abs. error", "bound ε²", "max rel. error (floor ε²)", "result"], rows))
    if any(r["passed"] and r["max_rel_error"] > 1e-4 for r in m.get("checks", [])):
        out += ["Why a passing check shows a relative error of about 0.003–0.01: many gradient entries are "
                "about 10⁻⁶, and the centred difference carries a truncation error of order ε² "
                "(about 10⁻⁸ here), so their relative error is 10⁻⁸ / 10⁻⁶ ≈ 0.01 even though the gradient "
                "is right. The text's criterion is absolute: |numeric − analytic| ≤ ε² for every weight, "
                "which the max abs. error column meets.", ""]
    return out


@section(A, "1a")
def s1a(ctx: Ctx, p) -> list[str]:
    return [
        "With $\\hat y^n = f(x^n) = \\sigma(w^\\top x^n)$ and "
        "$C^n(w) = -\\left(y^n \\ln \\hat y^n + (1 - y^n) \\ln(1 - \\hat y^n)\\right)$, the chain rule and "
        "$\\frac{\\partial f}{\\partial w_i} = x_i^n f(x^n)\\,(1 - f(x^n))$ give",
        "",
        "$$\\frac{\\partial C^n}{\\partial w_i} = -\\left(\\frac{y^n}{\\hat y^n} - \\frac{1 - y^n}{1 - \\hat y^n}\\right)"
        " x_i^n \\hat y^n (1 - \\hat y^n) = -\\left(y^n (1 - \\hat y^n) - (1 - y^n)\\hat y^n\\right) x_i^n"
        " = -(y^n - \\hat y^n)\\, x_i^n .$$",
        "",
        "Averaged over a batch: $\\partial C / \\partial w = -\\frac{1}{N} X^\\top (y - \\hat y)$, which is what "
        "the sigmoid head (`linclf_cli/engine/heads.py`) and the affine layer's backward (`linclf_cli/engine/layers.py`) compute.",
        "",
    ] + _gradcheck_rows(ctx.metrics(p.task.ref))


@section(A, "1b")
def s1b(ctx: Ctx, p) -> list[str]:
    return [
        "With $z_k = w_k^\\top x^n$, $\\hat y_k = e^{z_k} / \\sum_{k'} e^{z_{k'}}$ and "
        "$C^n = -\\sum_k y_k^n \\ln \\hat y_k^n$, use $\\ln(a/b) = \\ln a - \\ln b$ and $\\sum_k y_k = 1$:",
        "",
        "$$C^n = -\\sum_k y_k z_k + \\sum_k y_k \\ln \\sum_{k'} e^{z_{k'}} = -\\sum_k y_k z_k + \\ln \\sum_{k'} e^{z_{k'}} .$$",
        "",
        "Differentiating with respect to $z_k$ (the case $k' = k$ and the cases $k' \\neq k$ of the sum collapse "
        "into the softmax):",
        "",
        "$$\\frac{\\partial C^n}{\\partial z_k} = -y_k^n + \\frac{e^{z_k}}{\\sum_{k'} e^{z_{k'}}} = \\hat y_k^n - y_k^n ,"
        "\\qquad \\frac{\\partial z_k}{\\partial w_{kj}} = x_j^n ,$$",
        "",
        "$$\\frac{\\partial C^n}{\\partial w_{kj}} = -x_j^n \\left(y_k^n - \\hat y_k^n\\right) .$$",
        "",
    ] + _gradcheck_rows(ctx.metrics(p.task.ref))


@section(A, "2a", "3a")
def s_code(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    extra = []
    for k, label in (("binary_zero_weight_mean_output", "mean binary output at zero weights (starter: 0.5)"),
                     ("softmax_zero_weight_mean_output", "mean softmax output at zero weights (starter: 0.1)"),
                     ("one_hot_of_3", "one-hot of label 3")):
        if k in m:
            extra.append([label, str(m[k]) if isinstance(m[k], list) else fmt(m[k], 6)])
    return (["Pre-processing maps pixels to $[-1, 1]$ with $x / 127.5 - 1$ and appends the bias column "
             "(785 features). The starter's tests, run by linclf:", ""]
            + table(["check", "value"], extra) + _gradcheck_rows(m))


def _final(m: dict) -> list[str]:
    return table(["", "training set", "validation set"], [
        ["final loss", fmt(m["train_loss"]), fmt(m["val_loss"])],
        ["final accuracy", pct(m["train_accuracy"]), pct(m["val_accuracy"])],
    ])


@section(A, "2b")
def s2b(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    return [ctx.fig(p.task.ref, "loss.png", "Task 2b: binary cross-entropy, training (10-step mean ± std) "
                    "and validation"),
            f"{m['steps']} steps ({m['steps_per_epoch']} per epoch, {m['n_train']} training and "
            f"{m['n_val']} validation images, no shuffling). The final validation loss is "
            f"{fmt(m['val_loss'])}. The training loss spikes once per epoch: the same batches come in "
            "the same order every epoch.", ""] + _final(m)


@section(A, "2c")
def s2c(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(ref("2b"))
    return [ctx.fig(ref("2b"), "accuracy.png", "Task 2c: binary accuracy on the whole training set and "
                    "the validation set"),
            f"Final accuracy: training {pct(m['train_accuracy'])}, validation {pct(m['val_accuracy'])}.", ""]


@section(A, "2d")
def s2d(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    return [ctx.fig(p.task.ref, "loss.png", "Task 2d: loss with early stopping"),
            f"With early stopping (stop when {10} consecutive validation checks, one every "
            f"{m['validation_every']} steps, do not beat the best validation loss), training stops at step "
            f"**{m['stopped_step']}**, i.e. in epoch **{m['stopped_epoch']}** counted from 0 as the starter's "
            f"loop prints it (epoch {m['stopped_epoch'] + 1} counted from 1), out of 500. The best "
            f"validation loss, {fmt(m['best_val_loss'])}, was reached at step {m['best_val_loss_step']}; as in "
            "the starter and the solution, the weights of the stop step are kept.", ""] + _final(m)


def _roughness(d) -> tuple[float, float]:
    h = load_history(d)
    va = h["history_checks"]["val_accuracy"]
    tl = h["history_steps"]["train_loss"]
    return float(np.mean(np.abs(np.diff(va)))), float(np.std(np.diff(tl)))


@section(A, "2e")
def s2e(ctx: Ctx, p) -> list[str]:
    m, m0 = ctx.metrics(p.task.ref), ctx.metrics(ref("2d"))
    r1, r0 = _roughness(ctx.dir(p.task.ref)), _roughness(ctx.dir(ref("2d")))
    return [
        ctx.fig(p.task.ref, "task2e_train_accuracy_shuffle_difference.png",
                "Task 2e: validation accuracy with and without shuffling"),
        ctx.fig(p.task.ref, "task2e_train_loss_with_shuffle.png",
                "Task 2e: training loss with and without shuffling"),
        *table(["", "without shuffle (2d)", "with shuffle"], [
            ["early-stop epoch (0-based)", fmt(m0["stopped_epoch"]), fmt(m["stopped_epoch"])],
            ["stop step", fmt(m0["stopped_step"]), fmt(m["stopped_step"])],
            ["final validation accuracy", pct(m0["val_accuracy"]), pct(m["val_accuracy"])],
            ["mean |change| of validation accuracy between checks", fmt(r0[0], 5), fmt(r1[0], 5)],
            ["std of the step-to-step change of the training loss", fmt(r0[1], 5), fmt(r1[1], 5)],
        ]),
        "Without shuffling every epoch presents the same batches in the same order, so a hard or "
        "one-sided batch pulls the weights the same way at the same point of every epoch: the spikes "
        "recur with the epoch period (31 steps; in the validation curves, which are sampled every 6 steps, "
        "they line up every lcm(6, 31) = 186 steps). Shuffling makes each batch a fresh random sample of "
        "the training set, so its gradient is an unbiased estimate of the full gradient and the spikes average "
        "out, as the smaller step-to-step variation above shows. Smaller batches would make the unshuffled "
        "spikes worse.", "",
        "The early-stop epoch with shuffling depends on the random stream. With the starter's own stream "
        "(`rng: legacy`: `np.random.seed(0)`, then one `np.random.shuffle` of a fresh index list per epoch "
        f"in the batch loader) training stops in epoch **{fmt(m['stopped_epoch'])}**"
        + (", as the official solution does" if m["stopped_epoch"] == COURSE_2E_STOP
           else f"; the official solution stops in epoch {COURSE_2E_STOP}")
        + "." + _spread_sentence(ctx, "2e", "stopped_epoch", "the stop epoch"), ""]


COURSE_2E_STOP = 16  # the official solution's early-stop epoch with shuffling (0-based)
COURSE_3B = {"train_loss": "0.28003", "val_loss": "0.29902", "train_accuracy": "92.25 %",
             "val_accuracy": "91.57 %"}  # the starter's final printout for 3b


def _spread(ctx: Ctx, task: str) -> dict | None:
    """The seed study of ``task`` (``<task>-seeds``) when the report has it."""
    r = ref(f"{task}-seeds")
    if r not in ctx.plans:
        return None
    return ctx.metrics(r).get("metrics") or None


def _spread_sentence(ctx: Ctx, task: str, metric: str, what: str) -> str:
    s = (_spread(ctx, task) or {}).get(metric)
    if not s or s.get("median") is None:
        return ""
    return (f" Over {s['n']} other seeds (`linclf run {task} --seeds {s['n']}`, the section after this one) "
            f"{what} ranges from {s['min']:g} to {s['max']:g}, median {s['median']:g}.")


def _seed_rows(summary: dict, metrics: list[str], percent: set[str]) -> list[list[str]]:
    rows = []
    for k in metrics:
        s = summary.get(k)
        if not s or s.get("median") is None:
            continue
        f = pct if k in percent else (lambda v: "–" if v is None else f"{v:.5g}")
        if k in percent:
            std = f"{100 * s['std']:.2f} points"
        elif k.endswith(("epoch", "step")):  # counts: a spread of whole epochs or steps
            std = f"{s['std']:.1f} {k.rsplit('_', 1)[-1]}s"
        else:
            std = fmt(s["std"])
        rows.append([k.replace("_", " "), f(s["course"]), f(s["median"]), f"{f(s['min'])} – {f(s['max'])}", std])
    return rows


def _seeds_section(ctx: Ctx, p, task: str, metrics: list[str], extra: list[str]) -> list[str]:
    m = ctx.metrics(p.task.ref)
    summary = m.get("metrics", {})
    percent = {"val_accuracy", "train_accuracy", "accuracy_gap"}
    return [ctx.fig(p.task.ref, "seeds.png", f"Task {task} over {m.get('n_seeds')} seeds: each metric's "
                    "histogram; red: the course stream (seed 0), dashed: the median"),
            f"Task {task} again with {m.get('n_seeds')} other seeds, drawn from `SeedSequence({m.get('task_seed')})` "
            f"(the same `{m.get('rng')}` sampler; the seeds depend only on the task seed, never on the number "
            "of workers). Every seed's metrics are in `seeds.csv`.", "",
            *table(["", "course stream (seed 0)", "median", "range", "std"], _seed_rows(summary, metrics, percent)),
            *extra]


@section(A, "2e-seeds")
def s2e_seeds(ctx: Ctx, p) -> list[str]:
    s = ctx.metrics(p.task.ref).get("metrics", {}).get("stopped_epoch") or {}
    extra = []
    if s.get("median") is not None:
        inside = s["min"] <= 18 <= s["max"]
        extra = [f"The stop epoch moves from {s['min']:g} to {s['max']:g} with the shuffle order alone, so a run "
                 f"that stops in epoch 18 is {'well within' if inside else 'outside'} the spread; the course stream's "
                 f"{fmt(s['course'])} lies at the {100 * s['course_percentile']:.0f}th percentile of the seeds. "
                 "The validation accuracy at the stop varies far less.", ""]
    return _seeds_section(ctx, p, "2e", ["stopped_epoch", "val_accuracy", "val_loss", "train_accuracy"], extra)


@section(A, "3b-seeds")
def s3b_seeds(ctx: Ctx, p) -> list[str]:
    return _seeds_section(ctx, p, "3b", ["val_accuracy", "train_accuracy", "val_loss", "train_loss",
                                         "accuracy_gap"], [])


@section(A, "3b")
def s3b(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    return ([ctx.fig(p.task.ref, "loss.png", "Task 3b: softmax cross-entropy, training (10-step mean ± std) "
                     "and validation"),
             f"{m['steps']} steps ({m['steps_per_epoch']} per epoch), learning rate 0.01, batch 128, shuffled "
             "every epoch, no early stopping (the text switches it off for tasks 3 and 4).", ""]
            + table(["", "training set", "validation set", "the starter prints (training / validation)"], [
                ["final loss", fmt(m["train_loss"], 5), fmt(m["val_loss"], 5),
                 f"{COURSE_3B['train_loss']} / {COURSE_3B['val_loss']}"],
                ["final accuracy", pct(m["train_accuracy"]), pct(m["val_accuracy"]),
                 f"{COURSE_3B['train_accuracy']} / {COURSE_3B['val_accuracy']}"],
            ])
            + ["With the starter's shuffle stream (`rng: legacy`, `np.random.seed(0)`) these are the starter's "
               "numbers to every printed digit.", ""])


@section(A, "3c")
def s3c(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(ref("3b"))
    return [ctx.fig(ref("3b"), "accuracy.png", "Task 3c: softmax accuracy on the training and validation sets"),
            f"Final training accuracy **{pct(m['train_accuracy'])}**, final validation accuracy "
            f"**{pct(m['val_accuracy'])}**.", ""]


@section(A, "3d")
def s3d(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(ref("3b"))
    c = load_history(ctx.dir(ref("3b")))["history_checks"]
    gap = c["train_accuracy"] - c["val_accuracy"]
    opened = next((int(s) for s, g in zip(c["step"], gap) if g > 0.005), None)
    return [
        f"At the end the training accuracy exceeds the validation accuracy by "
        f"{100 * m['accuracy_gap']:.2f} percentage points and the validation loss exceeds the training loss "
        f"by {fmt(m['loss_gap'])}. The accuracy gap first exceeds 0.5 points at step "
        f"{fmt(opened)} and then widens slowly, while the validation loss keeps falling or flattens "
        f"(best {fmt(m['best_val_loss'])} at step {m['best_val_loss_step']} of {m['steps']}). "
        "So there is a little overfitting — the model fits the 20 000 training images slightly better than "
        "unseen ones — but it is mild: a linear model with 7850 parameters has too little capacity to "
        "memorise the training set, and the validation accuracy does not degrade.", ""] + _noise_3d(ctx, m)


def _noise_3d(ctx: Ctx, m: dict) -> list[str]:
    s = _spread(ctx, "3b")
    if not s or not s.get("accuracy_gap") or s["accuracy_gap"].get("median") is None:
        return []
    g, v = s["accuracy_gap"], s["val_accuracy"]
    return [f"How much of this is noise: over {g['n']} seeds (task 3b-seeds) the final gap ranges from "
            f"{100 * g['min']:.2f} to {100 * g['max']:.2f} points (median {100 * g['median']:.2f}) and the "
            f"validation accuracy from {pct(v['min'])} to {pct(v['max'])} (std {100 * v['std']:.2f} points). "
            f"Two runs that differ only in their seed can thus differ by up to {100 * (v['max'] - v['min']):.2f} "
            "points of validation accuracy; the gap is positive for every seed, so the mild overfitting is "
            "real, not noise." if g["min"] > 0 else
            f"How much of this is noise: over {g['n']} seeds the final gap ranges from {100 * g['min']:.2f} to "
            f"{100 * g['max']:.2f} points, so its sign is within the seed-to-seed noise.", ""]


@section(A, "4a")
def s4a(ctx: Ctx, p) -> list[str]:
    return [
        "With $J(w) = C(w) + \\lambda R(w)$ and the 2022 definition $R(w) = \\frac{1}{2}\\sum_{i,j} w_{ij}^2$:",
        "",
        "$$\\frac{\\partial J}{\\partial w} = \\frac{\\partial C}{\\partial w} + \\lambda w .$$",
        "",
        "(The 2021 text had $R(w) = \\sum_{i,j} w_{ij}^2$ and $2\\lambda w$; both add the same coefficient "
        "$c$ to the gradient, so linclf's `--l2` is $c$, the 2022 λ.) The whole 785×10 matrix is "
        "regularised, bias row included, as in the starter and the solution: `l2` with "
        "`l2_form: half` over the weights and the bias row (`--recipe tdt4265`); the learning rate α "
        "is `learning_rate` (`--lr`).",
        "",
    ] + _gradcheck_rows(ctx.metrics(p.task.ref))


@section(A, "4b")
def s4b(ctx: Ctx, p) -> list[str]:
    m, m0 = ctx.metrics(p.task.ref), ctx.metrics(ref("3b"))
    return [
        ctx.fig(p.task.ref, "task4b_softmax_weight.png",
                "Task 4b: weights of each digit as 28×28 images; top λ = 0, bottom λ = 2 (each row min-max normalised)"),
        *table(["", "λ = 0 (3b)", "λ = 2"], [
            ["‖W‖² (sum of squares)", fmt(m0["weight_sum_of_squares"]), fmt(m["weight_sum_of_squares"])],
            ["validation accuracy", pct(m0["val_accuracy"]), pct(m["val_accuracy"])],
        ]),
        "The regularised weights are smoother and look like blurred digits. Without L2 a weight on a pixel "
        "that carries little information (the border, or pixels that vary between writers) can grow large "
        "because it helps fit a few training images; with L2 every unit of weight costs, so only weights "
        "supported by many images survive, and the templates become smooth digit shapes.", ""]


@section(A, "4c")
def s4c(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    rows = [[f"{r['l2']:g}", pct(r["val_accuracy"]), pct(r["train_accuracy"]), fmt(r["val_loss"])]
            for r in m["points"]]
    return [ctx.fig(p.task.ref, "task4c_l2_reg_accuracy.png", "Task 4c: validation accuracy for each λ"),
            "Each λ is a fresh 50-epoch run with the 3b hyperparameters and the same seed (early stopping "
            "off, so every curve has the full length).", ""] + table(
        ["λ", "final validation accuracy", "final training accuracy", "final validation loss"], rows)


@section(A, "4d")
def s4d(ctx: Ctx, p) -> list[str]:
    m, m0 = ctx.metrics(ref("4c")), ctx.metrics(ref("3b"))
    pts = sorted(m["points"], key=lambda r: r["l2"])
    return [
        f"Without regularisation the validation accuracy is {pct(m0['val_accuracy'])}; with λ = "
        + ", ".join(f"{r['l2']:g}: {pct(r['val_accuracy'])}" for r in pts)
        + ". Every λ lowers it, and the more so the larger λ. The model is a single linear layer: as 3d "
        "showed, it barely overfits (train–validation gap "
        f"{100 * m0['accuracy_gap']:.2f} points), so there is little variance for L2 to remove, and the "
        "penalty mainly adds bias — it pulls the weights towards zero and the model underfits. "
        "Regularisation pays off for models with enough capacity to overfit.", ""] + _noise_4d(ctx, m, m0)


def _noise_4d(ctx: Ctx, m: dict, m0: dict) -> list[str]:
    s = (_spread(ctx, "3b") or {}).get("val_accuracy")
    if not s or s.get("median") is None:
        return []
    spread = s["max"] - s["min"]
    smallest = min(m["points"], key=lambda r: r["l2"])
    d = m0["val_accuracy"] - smallest["val_accuracy"]
    drops = ", ".join(f"{100 * (m0['val_accuracy'] - r['val_accuracy']):.1f}"
                      for r in sorted(m["points"], key=lambda r: r["l2"])[1:])
    return [f"Which differences are noise: with λ = 0 the validation accuracy varies from {pct(s['min'])} to "
            f"{pct(s['max'])} over {s['n']} seeds (task 3b-seeds; std {100 * s['std']:.2f} points), so two runs "
            f"differing by less than about {100 * spread:.2f} points are not told apart by one run each. The drop "
            f"to λ = {smallest['l2']:g} ({100 * d:.2f} points) is "
            + ("within that noise: with one run per λ the weakest regularisation is indistinguishable from none"
               if abs(d) <= spread else "larger than that noise")
            + f"; the larger λ's drops ({drops} "
            "points) are far beyond it. (Every λ shares the seed, so their curves differ by λ alone.)", ""]


@section(A, "4e")
def s4e(ctx: Ctx, p) -> list[str]:
    m, m0 = ctx.metrics(ref("4c")), ctx.metrics(ref("3b"))
    rows = [[f"{r['l2']:g}", fmt(r["weight_sum_of_squares"]), fmt(r["weight_frobenius_norm"])]
            for r in sorted(m["points"], key=lambda r: r["l2"])]
    rows.insert(0, ["0 (3b)", fmt(m0["weight_sum_of_squares"]), fmt(m0["weight_frobenius_norm"])])
    return ([ctx.fig(ref("4c"), "task4e_l2_reg_norms.png", "Task 4e: ‖W‖² against λ (log axis)"),
             "The plotted length is the **sum of squared weights** ‖W‖² (bias row included), as in the "
             "course solution; the Frobenius norm is its square root and is listed too.", ""]
            + table(["λ", "‖W‖² (sum of squares)", "‖W‖_F (Frobenius)"], rows)
            + ["The norm falls steeply as λ grows: the penalty's gradient λW shrinks every weight by a "
               "factor (1 − ηλ) per step, so the equilibrium between the data gradient and the decay "
               "moves towards zero.", ""])
