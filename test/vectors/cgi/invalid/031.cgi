X: a

