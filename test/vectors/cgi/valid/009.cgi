Location: http://example.com/next

