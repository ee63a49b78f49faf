Status: 200OK

