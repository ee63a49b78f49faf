X: y
HTTP/1.1 200 OK

