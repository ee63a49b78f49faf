HTTP/1.1 418 Short And Stout
X: y

