Status: 20

