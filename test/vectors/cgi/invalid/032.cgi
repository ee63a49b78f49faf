X: ab

