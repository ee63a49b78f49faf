

body