X-A:   v  w 	
X-B:v
X-C:		v	

