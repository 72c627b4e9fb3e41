"""AML 2020 Assignment 2: a two-layer ReLU network on CIFAR-10 (NumPy SGD and Adam)."""
