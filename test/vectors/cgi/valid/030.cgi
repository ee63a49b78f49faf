Content-Type: text/html
