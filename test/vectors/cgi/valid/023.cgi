Location: http://h:8080/a:b

