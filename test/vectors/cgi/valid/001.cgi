Content-Type: text/html

<p>hi</p>
