;; Swift: line and (nestable) block comments.
[(comment) (multiline_comment)] @comment
