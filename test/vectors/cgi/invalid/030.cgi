Status: 200 OK
Status: 500 Oops

