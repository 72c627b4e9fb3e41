"""Sapienza AML 2020 Assignment 2 sections: toy checks against the text's thresholds, the
CIFAR-10 runs, the tuning grid and the depth study, discussed from the measured numbers."""

from __future__ import annotations

import numpy as np

from linclf_cli.assignments.aml2020.recipe import CHANCE_THRESHOLD, load_history

from linclf_cli.assignments.report_kit import INTROS, Ctx, cell, fmt, pct, point_rows, section, table

A = "aml-a2"


def ref(t: str) -> str:
    return f"{A}/{t}"


def ok(flag: bool) -> str:
    return "✔ pass" if flag else "✗ fail"


def intro(ctx: Ctx) -> list[str]:
    return [
        "**Conventions.** The forward pass without labels returns softmax **probabilities**, as the "
        "AML starter's expected toy scores are. The regulariser is λ(‖W1‖² + ‖W2‖²), no ½ and no "
        "biases, so the gradient gets 2λW. SGD decays the learning rate at "
        "`it % iterations_per_epoch == 0`, it = 0 included — every iteration on the 5-sample toy data — "
        "and the recorded training accuracy is that of the current mini-batch. Test accuracies "
        "use the **first 1000 test images**, as both starter scripts do. In linclf's options: λ (the "
        "starter's `reg`) is `l2` with `l2_form: full` (`--l2`), `num_iters` is `iterations` "
        "(`--recipe aml2020`); Adam's coupled weight decay is `l2` with `l2_form: half` (it adds "
        "`l2`·θ to every parameter's gradient, biases included: the gradient of (`l2`/2)Σθ²).", ""]


INTROS[A] = intro


@section(A, "q1")
def s_q1(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(p.task.ref)
    th = m["thresholds"]
    return [
        "Toy network: 4 inputs, 10 hidden units, 3 classes, 5 samples (the starter's seeds: model "
        "RandomState(0), std 0.1; data RandomState(1)). Forward and loss are fully vectorised "
        "(the engine's `Model`, `linclf_cli/engine/model.py`: two matrix products, a ReLU and a stable softmax, no Python loops).",
        "",
        *table(["check", "measured", "text's threshold", "result"], [
            ["Q1a: Σ |probabilities − correct_scores|", fmt(m["forward_abs_diff"]), f"< {th['forward']:g}",
             ok(m["passed"]["forward"])],
            ["Q1b: loss (reg = 0.05)", fmt(m["loss"], 11), f"{m['correct_loss']:.11f}", ""],
            ["Q1b: |loss − correct loss|", fmt(m["loss_abs_diff"]), f"< {th['loss']:g}", ok(m["passed"]["loss"])],
        ])]


@section(A, "q2")
def s_q2(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(ref("q1"))
    rows = [[k, fmt(v), fmt(m["gradcheck_abs"].get(k)), f"< {m['thresholds']['gradcheck']:g}",
             ok(v < m["thresholds"]["gradcheck"])] for k, v in m["gradcheck"].items()]
    return [
        "With δ₃ = ∂J̃/∂z₃ = (1/N)(ψ − Δ) (ψ the softmax outputs, Δ the one-hot labels, one row per "
        "example) and the code's orientation z = xW + b:",
        "",
        "$$\\frac{\\partial \\tilde J}{\\partial W_2} = a_2^\\top \\delta_3 + 2\\lambda W_2, \\qquad "
        "\\frac{\\partial \\tilde J}{\\partial b_2} = \\sum_i \\delta_{3,i},$$",
        "",
        "$$\\delta_2 = (\\delta_3 W_2^\\top) \\odot \\mathbb 1[z_2 > 0], \\qquad "
        "\\frac{\\partial \\tilde J}{\\partial W_1} = x^\\top \\delta_2 + 2\\lambda W_1, \\qquad "
        "\\frac{\\partial \\tilde J}{\\partial b_1} = \\sum_i \\delta_{2,i} .$$",
        "",
        f"Numerical check (Q2d): centred differences with h = {m['gradcheck_h']:g} on the regularised toy "
        "loss (reg = 0.05), relative error max |a − n| / max(1e-8, |a| + |n|):",
        "",
        *table(["parameter", "max rel. error", "max abs. error", "text's threshold", "result"], rows),
        f"Largest relative error over all parameters: **{fmt(m['gradcheck_max_rel_error'])}**.", ""]


@section(A, "q3a")
def s_q3a(ctx: Ctx, p) -> list[str]:
    m = ctx.metrics(ref("q1"))
    return [
        ctx.fig(ref("q1"), "toy_loss.png", "Q3a: training loss on the toy data (Fig. 2 of the text)"),
        "SGD with learning rate 0.1, reg 5e-6, 100 iterations, batches of 200 drawn with replacement "
        "from the 5 samples, learning rate × 0.95 after every iteration (one iteration per epoch).",
        "",
        "With the notebook's stream (`rng: legacy`: the model built again from `np.random.seed(0)` right "
        "before training, its batches `np.random.choice(5, 200)` continuing that stream) the losses are the "
        "notebook's to the printed digits.",
        "",
        *table(["", "measured", "text / notebook", "result"], [
            ["initial loss", f"{m['toy_initial_loss']:.6f}", "1.241994 (notebook)", ""],
            ["final training loss", repr(m["toy_final_loss"]),
             f"< {m['thresholds']['toy_loss']:g} (text); 0.017149607938732093 (notebook)",
             ok(m["passed"]["toy_loss"])],
            ["final training accuracy", pct(m["toy_final_train_accuracy"]), "", ""],
            ["final learning rate", fmt(m["toy_final_learning_rate"]), "", ""],
        ])]


def _acc_table(m: dict) -> list[str]:
    rows = [["training accuracy (whole training set)", pct(m["train_accuracy"])],
            ["validation accuracy", pct(m["val_accuracy"])],
            [f"best recorded validation accuracy (epoch {m['best_val_epoch']})", pct(m["best_val_accuracy"])],
            [f"test accuracy (first {m['n_test']} test images)", pct(m["test_accuracy"])]]
    if "test_accuracy_full" in m:
        rows.append([f"test accuracy (all {m['n_test_full']} test images; extra)", pct(m["test_accuracy_full"])])
    rows.append(["final mini-batch loss", fmt(m["final_loss"])])
    return table(["", "value"], rows)


@section(A, "q3b")
def s_q3b(ctx: Ctx, p) -> list[str]:
    r = p.task.ref
    m = ctx.metrics(r)
    loss = load_history(ctx.dir(r))["history_steps"]["loss"]
    k = max(1, len(loss) // 10)
    first, last = float(np.mean(loss[:k])), float(np.mean(loss[-k:]))
    gap = m["train_accuracy"] - m["val_accuracy"]
    return [
        ctx.fig(r, "loss.png", "Q3b: mini-batch loss of the default run"),
        ctx.fig(r, "accuracy.png", "Q3b: training (mini-batch) and validation accuracy"),
        ctx.fig(r, "first_layer.png", "Q3b: first-layer weights (W1 columns as 32×32×3 images)"),
        f"Defaults: hidden {m['hidden'][0]}, {m['iterations']} iterations ({fmt(m['epochs'], 2)} epochs of "
        f"{m['iterations_per_epoch']} iterations), batch {m['batch_size']}, learning rate "
        f"{fmt(m['learning_rate'])}, reg {fmt(m['l2'])}, init std {fmt(m['init_std'])}. Validation accuracy "
        f"**{pct(m['val_accuracy'])}** — the text expects about 29 %, \"very poor\".",
        "",
        *_acc_table(m),
        *_diagnosis(loss, gap, first, last)]


def _diagnosis(loss, gap: float, first: float, last: float) -> list[str]:
    half = len(loss) // 2
    k = max(1, len(loss) // 10)
    early = float(np.mean(loss[:k]) - np.mean(loss[half - k:half])) if half >= k else 0.0
    late = float(np.mean(loss[half - k:half]) - np.mean(loss[-k:])) if half >= k else 0.0
    still = early > 0 and late > 0.3 * early
    side = "above" if gap >= 0 else "below"
    text = (f"Debugging from the curves: the loss goes from {fmt(first)} to {fmt(last)} (mean of the first "
            f"and last tenth of the iterations); in the second half it fell by {fmt(late)} against "
            f"{fmt(early)} in the first half"
            + (", so it is still falling when training stops: the learning rate is too low for this "
               "number of iterations" if still else ", so it has levelled off")
            + f". The training accuracy is {pct(abs(gap))} {side} the validation accuracy"
            + (", so the network underfits rather than overfits: it needs more capacity and more, faster "
               "training (larger learning rate, more iterations, more hidden units) and, if anything, "
               "less regularisation." if gap < 0.05 else
               ", a sign of overfitting: more regularisation or fewer hidden units would help."))
    return [text + " The first-layer weights show how far the filters got from their random start.", ""]


@section(A, "q3b-tuning")
def s_tuning(ctx: Ctx, p) -> list[str]:
    r = p.task.ref
    m = ctx.metrics(r)
    f = m["fields"]

    rows = point_rows(m)
    b = m["best"]
    pts = m["points"]

    def mean_val(field, value):
        v = [x["val_accuracy"] for x in pts if x[field] == value]
        return float(np.mean(v)) if v else float("nan")

    effects = []
    for k in f:
        vals = []
        for x in pts:
            if x[k] not in vals:
                vals.append(x[k])
        if len(vals) > 1:
            effects.append(f"{k}: " + ", ".join(f"{cell(v)} → {pct(mean_val(k, v))}" for v in vals))
    base = ctx.metrics(ref("q3b")) if ref("q3b") in ctx.plans and ctx.plans[ref("q3b")].result else None
    grid_vals = {k: [] for k in f}
    for x in pts:
        for k in f:
            if x[k] not in grid_vals[k]:
                grid_vals[k].append(x[k])
    tried = "; ".join(f"{k} ∈ {{{', '.join(str(cell(v)) for v in vs)}}}" for k, vs in grid_vals.items())
    defaults = (f" (defaults: hidden {cell(base['hidden'])}, learning rate {base['learning_rate']:g}, "
                f"{base['iterations']} iterations, reg {base['l2']:g})") if base else ""
    out = [
        "The default run is diagnosed above; the search follows it towards more capacity and faster, "
        f"longer training and a lighter regulariser: {tried}{defaults}. Every point is an independent run "
        "with the same seed (run in parallel, each cached); the selection uses the validation accuracy "
        "only, and the test set is evaluated once, for the selected network.", ""]
    out += table([*f, "train acc.", "val acc.", "train − val", ""], rows)
    out += ["Mean validation accuracy per value (over the other settings): " + "; ".join(effects) + ".", ""]
    out += [f"Selected: `{m['best_name']}` — validation accuracy **{pct(m['best_val_accuracy'])}** "
            f"({'above' if m['best_val_accuracy'] > 0.48 else 'not above'} the required 48 %), "
            f"**test accuracy {pct(m['best_test_accuracy'])}** (first "
            f"{ctx.plans[r].parsed.points[m['best_name']][1].n_test} test images, evaluated once)"
            + (f", against {pct(base['val_accuracy'])} validation accuracy for the defaults" if base else "")
            + ".", ""]
    out.append(ctx.fig(r, f"{m['best_name']}/accuracy.png", "Q3b tuning: accuracy of the selected network"))
    if len(b["hidden"]) == 1:
        out.append(ctx.fig(r, f"{m['best_name']}/first_layer.png",
                           "Q3b tuning: first-layer weights of the selected network"))
    return out


@section(A, "q3b-search")
def s_search(ctx: Ctx, p) -> list[str]:
    r = p.task.ref
    m = ctx.metrics(r)
    f = m["fields"]
    cfg = ctx.plans[r].parsed.points[m["best_name"]][1]

    rows = point_rows(m)
    b = m["best"]
    tuned = ctx.metrics(ref("q3b-tuning")) if ref("q3b-tuning") in ctx.plans and ctx.plans[ref("q3b-tuning")].result else None
    goal = 0.55
    if tuned:
        widest = max(sum(x["hidden"]) if isinstance(x.get("hidden"), list) else 0 for x in tuned["points"])
        longest = max(x.get("iterations", 0) for x in tuned["points"])
        lead = f"The tuning above goes up to {widest} hidden units and {longest} iterations. "
    else:
        lead = ""
    out = [lead + f"Here the same SGD (mini-batches of "
           f"{cfg.batch_size} drawn with replacement, the learning rate decayed × {cfg.learning_rate_decay:g} "
           f"per epoch, reg {cfg.l2:g}, init std {cfg.init_std:g}, mean-image pre-processing) trains "
           f"{' and '.join(str(h) for h in cfg.hidden)} hidden units for {cfg.iterations} iterations (about "
           f"{cfg.iterations * cfg.batch_size / cfg.n_train:.0f} epochs), over the settings in the table; "
           f"the goal is {100 * goal:.0f} % test accuracy, the upper end of what "
           "students report (50–57.5 %) for tuned two-layer nets. Selection by validation accuracy; the test "
           "set is evaluated once.", ""]
    out += table([*f, "train acc.", "val acc.", "train − val", ""], rows)
    full = b.get("test_accuracy_full")
    out += [f"Selected: `{m['best_name']}`, validation accuracy {pct(m['best_val_accuracy'])}, **test accuracy "
            f"{pct(m['best_test_accuracy'])}** on the first {cfg.n_test} test images"
            + (f" ({pct(full)} on all 10 000)" if full is not None else "")
            + (f", against {pct(tuned['best_test_accuracy'])} for the tuning grid's choice" if tuned else "")
            + ". " + (f"That passes the {100 * goal:.0f} % goal." if m["best_test_accuracy"] >= goal else
                      f"That falls short of the {100 * goal:.0f} % goal: with 1000 test images one standard error is "
                      f"about {100 * np.sqrt(0.55 * 0.45 / cfg.n_test):.1f} points, and the 10 000-image estimate "
                      "shows where the network really stands."), ""]
    out.append(ctx.fig(r, f"{m['best_name']}/loss.png", "Beyond the tuning: loss of the selected network"))
    out.append(ctx.fig(r, f"{m['best_name']}/accuracy.png", "Beyond the tuning: accuracy of the selected network"))
    return out


@section(A, "q4b")
def s_q4b(ctx: Ctx, p) -> list[str]:
    r = p.task.ref
    m = ctx.metrics(r)
    return [
        ctx.fig(r, "loss.png", "Q4b: mini-batch loss (Adam)"),
        ctx.fig(r, "accuracy.png", "Q4b: training and validation accuracy per epoch"),
        f"One hidden layer of {m['hidden'][0]}, Adam (learning rate {fmt(m['learning_rate'])} × "
        f"{m['learning_rate_decay']:g} per epoch, weight decay {fmt(m['l2'])}), {m['epochs']} epochs of "
        f"batch {m['batch_size']}, init std {fmt(m['init_std'])}, inputs (x/255 − 0.5)/0.5. Validation "
        f"accuracy **{pct(m['val_accuracy'])}** (the text expects more than 48 %).", ""] + _acc_table(m)


@section(A, "q4c", "q4c-he")
def s_q4c(ctx: Ctx, p) -> list[str]:
    r = p.task.ref
    m = ctx.metrics(r)
    rows = [[d["layers"], "-".join(str(h) for h in d["hidden"]), pct(d["train_accuracy"]),
             pct(d["val_accuracy"]), fmt(d["at_chance"]), "**best**" if d["name"] == m["best_name"] else ""]
            for d in m["depths"]]
    cfg = ctx.plans[r].parsed.points[m["best_name"]][1]
    chance = m["at_chance_layers"]
    losses = {d["layers"]: d.get("final_loss") for d in m["depths"]}
    learned = [d["layers"] for d in m["depths"] if not d["at_chance"]]
    he = getattr(cfg, "init", "normal") == "he"
    if he:
        return _q4c_he(ctx, p, m, rows)
    out = [ctx.fig(r, "depth_val_accuracy.png", "Q4c: validation accuracy per epoch for each depth"),
           "Layers count the linear layers (2 = one hidden layer). Everything else is the Q4 default "
           f"(Adam, {cfg.epochs} epochs, learning rate {cfg.learning_rate:g}, weight decay {cfg.l2:g}, "
           f"init std {cfg.init_std:g}). "
           f"'At chance' means validation accuracy below {CHANCE_THRESHOLD:.0%} (chance is 10 %).", ""]
    out += table(["layers", "hidden sizes", "train acc.", "val acc.", "at chance", ""], rows)
    out += [f"The best depth by validation accuracy is **{m['best_layers']} layers** "
            f"({pct(m['best_val_accuracy'])}); its test accuracy, measured once, is "
            f"**{pct(m['best_test_accuracy'])}**.", ""]
    if chance:
        out += [f"The networks with {', '.join(map(str, chance))} layers stayed at chance"
                + (f", while {', '.join(map(str, learned))} layers learned" if learned else "")
                + ". With weights drawn from N(0, (1e-3)²), each layer multiplies the signal's scale by "
                "about 1e-3·√fan-in (≈ 0.007 for 50 units, 0.06 for the 3072 inputs): through several small "
                "layers the activations — and, backwards, the gradients of the early layers — vanish to "
                "almost nothing, the output is nearly constant and the loss stays near ln 10 = 2.3026 (measured "
                + ", ".join(f"{fmt(losses[c])} at {c} layers" for c in chance) + "). Adam rescales "
                "updates per weight, but the directions of such tiny gradients are dominated by the weight "
                "decay and round-off, so the net never breaks the symmetry. A larger (He/Xavier) "
                "initialisation, a higher learning rate or batch normalisation lets deeper nets train.", ""]
    else:
        gaps = ", ".join(f"{d['layers']}: {pct(d['train_accuracy'] - d['val_accuracy'])}" for d in m["depths"])
        out += ["No depth stayed at chance here. Train − validation gap per depth: " + gaps + ". Deeper "
                "nets fit the training set more but do not generalise better without more data, "
                "regularisation or a better initialisation.", ""]
    return out


def _q4c_he(ctx: Ctx, p, m: dict, rows: list) -> list[str]:
    """The depth study again with He initialisation, compared with the 1e-3 one."""
    r = p.task.ref
    base = ctx.metrics(ref("q4c")) if ref("q4c") in ctx.plans and ctx.plans[ref("q4c")].result else None
    out = [ctx.fig(r, "depth_val_accuracy.png", "Q4c with He initialisation: validation accuracy per epoch"),
           "The same networks and training as Q4c, but each weight matrix drawn as √(2 / fan-in)·N(0, 1) "
           "(He et al.), which keeps the scale of a ReLU layer's output equal to its input's, instead of "
           "1e-3·N(0, 1).", ""]
    out += table(["layers", "hidden sizes", "train acc.", "val acc.", "at chance", ""], rows)
    learned = [d["layers"] for d in m["depths"] if not d["at_chance"]]
    text = (f"With He initialisation {'every depth learns' if not m['at_chance_layers'] else 'the nets with ' + ', '.join(map(str, learned)) + ' layers learn'}"
            f"; the best depth is **{m['best_layers']} layers** ({pct(m['best_val_accuracy'])} validation, "
            f"**{pct(m['best_test_accuracy'])}** test).")
    if base:
        was = base.get("at_chance_layers") or []
        vals = {d["layers"]: d["val_accuracy"] for d in base["depths"]}
        now = {d["layers"]: d["val_accuracy"] for d in m["depths"]}
        text += (" Against the 1e-3 initialisation: " + ", ".join(
            f"{k} layers {pct(vals[k])} → {pct(now[k])}" for k in sorted(now) if k in vals) + ". ")
        if was and not any(k in (m["at_chance_layers"] or []) for k in was):
            text += ("The nets that stayed at chance now train, so their failure came from the initial scale "
                     "of the weights — vanishing activations and gradients — not from depth itself.")
        elif was:
            text += "Some of the nets that stayed at chance still do: the initial scale is not the whole story."
    return out + [text, ""]
