Set-Cookie: a=1
Set-Cookie: b=2
set-cookie: c=3

