HTTP/2 200
X: y

