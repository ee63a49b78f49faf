Status: 301 Moved Permanently
Location: /new

