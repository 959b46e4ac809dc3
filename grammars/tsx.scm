;; TSX: comments (JSDoc included) and HTML-style comments.
[(comment) (html_comment)] @comment
