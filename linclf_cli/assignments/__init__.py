"""Assignments as recipes: one folder per course (recipe.py: split, pre-processing and the
model, loss, L2 form, initialisation and trainer settings its text prescribes; toy.py; gradcheck.py).
Imports go down only: assignments -> engine / data / runs (the run writer)."""
