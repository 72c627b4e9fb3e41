"""DD2424 Assignment 1 (KTH): a linear classifier on CIFAR-10, softmax+CE and sigmoid+MBCE."""
