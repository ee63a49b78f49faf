Status: 404
Content-Type: text/html

