HTTP/1.0 404
X: y

