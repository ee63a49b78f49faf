Status: 404 Not Found
Content-Type: text/html

nope