XY: v

