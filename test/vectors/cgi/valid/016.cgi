HTTP/1.1 200 OK
Status: 500 Oops

