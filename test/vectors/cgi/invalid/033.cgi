X: ab

