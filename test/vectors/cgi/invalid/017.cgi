: value

