Status: 600 Nope

