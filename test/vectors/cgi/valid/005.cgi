Status: 200 Fine Thanks
X: y

