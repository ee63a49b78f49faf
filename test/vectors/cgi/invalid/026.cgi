Café: v

