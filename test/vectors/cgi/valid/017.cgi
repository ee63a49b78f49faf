HTTP/1.1 204 No Content

