;; JavaScript and JSX: comments, and HTML-style comments that browsers still accept.
[(comment) (html_comment)] @comment
