Status: 099

