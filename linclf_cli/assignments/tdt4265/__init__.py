"""TDT4265 Assignment 1 (NTNU, 2022): logistic and softmax regression on MNIST."""
