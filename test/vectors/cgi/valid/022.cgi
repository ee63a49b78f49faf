X-Empty:
X-Blank:   

