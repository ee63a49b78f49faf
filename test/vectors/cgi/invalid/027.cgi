X: aSet-Cookie: evil=1

