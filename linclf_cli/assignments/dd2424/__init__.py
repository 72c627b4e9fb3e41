"""DD2424 Assignment 1 (KTH): a linear classifier on CIFAR-10, softmax+CE and sigmoid+MBCE."""

from linclf_cli.assignments.base import Recipe
from linclf_cli.engine.init import Init

# standardised inputs; W ~ N(0, 0.01^2) drawn first, then b (2022 editions); L2 as
# lambda sum W^2 on W only; evaluation before training and after every epoch
RECIPE = Recipe(
    name="dd2424", title="DD2424 A1", preprocess="standardize", bias="vector",
    l2_form="full", l2_over="weights", init_linear=Init("normal", 0.01, bias="normal"),
    init_mlp=Init("he"), learning_rate={"sgd": 0.001, "adam": 1e-3}, batch_size=100,
    epochs=40, iterations=None, sampler="shuffle", eval_every="epoch", drop_last=True,
    cifar_split="dd2424", hidden=(50,),
    symbols={"learning_rate": "η", "l2": "λ", "batch_size": "n_batch", "epochs": "n_epochs"},
)
