Status: 2000

