Status: 200X: y

