"""TDT4265 Assignment 1 (NTNU, 2022): logistic and softmax regression on MNIST."""

from linclf_cli.assignments.base import Recipe
from linclf_cli.engine.init import Init

# pixels -> [-1, 1] with the bias as an appended column; W starts at zero; L2 as the 2022
# text's (lambda/2) sum W^2 over the whole matrix (the starter adds lambda W to the gradient);
# five validation checks per epoch; batches of 128, the last incomplete one dropped
RECIPE = Recipe(
    name="tdt4265", title="TDT4265 A1", preprocess="scale-bias-column", bias="column",
    l2_form="half", l2_over="all", init_linear=Init("zeros"), init_mlp=Init("he"),
    learning_rate={"sgd": 0.01, "adam": 1e-3}, batch_size=128, epochs=50, iterations=None,
    sampler="shuffle", eval_every="fifth-epoch", drop_last=True, hidden=(64,),
    symbols={"learning_rate": "α", "l2": "λ", "batch_size": "batch size"},
)
