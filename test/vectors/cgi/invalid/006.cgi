Status: OK

