X-Name: café

