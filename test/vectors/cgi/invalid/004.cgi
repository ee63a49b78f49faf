

body