HTTP/1.1 200 OK
Content-Type: text/html

body