Status:
X: y

