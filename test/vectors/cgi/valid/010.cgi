Location: /next
Content-Type: text/html

moved