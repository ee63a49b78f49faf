status:201
Content-Type: text/html

