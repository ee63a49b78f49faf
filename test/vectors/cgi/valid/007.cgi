Status: 599
X: y

