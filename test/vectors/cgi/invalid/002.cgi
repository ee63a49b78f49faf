Content-Type: text/html

BODY