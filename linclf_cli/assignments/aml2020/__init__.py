"""AML 2020 Assignment 2: a two-layer ReLU network on CIFAR-10 (NumPy SGD and Adam)."""

from linclf_cli.assignments.base import Recipe
from linclf_cli.engine.init import Init

# the training mean image subtracted; W ~ 1e-4 N(0, 1), b = 0; L2 as reg sum W^2 on the
# weights; SGD: 1000 iterations of batches drawn with replacement, the rate x0.95 per epoch
RECIPE = Recipe(
    name="aml2020", title="AML 2020 A2", preprocess="center", bias="vector",
    l2_form="full", l2_over="weights", init_linear=Init("normal", 1e-4),
    init_mlp=Init("normal", 1e-4), learning_rate={"sgd": 1e-4, "adam": 1e-3}, batch_size=200,
    epochs=10, iterations=1000, sampler="replacement", eval_every="epoch", drop_last=True,
    schedule="exponential", cifar_split="aml", hidden=(50,),
    symbols={"learning_rate": "learning_rate", "l2": "reg", "iterations": "num_iters"},
)
