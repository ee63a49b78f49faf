Content-Type : text/html

