X Name: v

