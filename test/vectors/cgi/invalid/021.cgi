X-Long: a
 b

