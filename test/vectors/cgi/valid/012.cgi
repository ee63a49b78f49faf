location: /x

