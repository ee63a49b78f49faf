Location: /aSet-Cookie: x

