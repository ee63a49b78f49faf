X	: v

