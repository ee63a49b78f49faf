TEXT = b"sub/script.py"
