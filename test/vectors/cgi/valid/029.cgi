Content-Type: text/html
X: y
