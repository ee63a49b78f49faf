Content-Type: text/html
garbage

