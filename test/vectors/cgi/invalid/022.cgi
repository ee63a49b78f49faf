X-Long: a
	b

