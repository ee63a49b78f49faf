Status: 103 Early Hints
Link: </a.css>; rel=preload

